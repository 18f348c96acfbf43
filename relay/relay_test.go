package relay

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// testKey is the stream key of every test: distinctive, so that finding
// it in a log or a Status is never a coincidence.
const testKey = "sk_live_Zx81qPw7RtYv"

// checkNoKey fails the test if the key shows in the logs or the status.
func checkNoKey(t *testing.T, logs *testenv.LogBuffer, r *Relay) {
	t.Helper()
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("the stream key is in the logs:\n%s", logs.String())
	}
	if s := fmt.Sprintf("%+v", r.Status()); strings.Contains(s, testKey) || strings.Contains(s, "/live") {
		t.Errorf("the status shows the key or the URL's path: %s", s)
	}
}

// feed writes packets and fails if WritePacket ever takes long: it must
// never block.
func feed(t *testing.T, r *Relay, packets []*media.Packet) {
	t.Helper()
	start := time.Now()
	for _, p := range packets {
		r.WritePacket(p)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("WritePacket of %d packets took %v", len(packets), d)
	}
}

func probeDuration(t *testing.T, path string) (video, audio *testenv.ProbeStream, seconds float64) {
	t.Helper()
	pr := testenv.Probe(t, path)
	for i := range pr.Streams {
		switch s := &pr.Streams[i]; s.CodecType {
		case "video":
			video = s
		case "audio":
			audio = s
		}
	}
	seconds, _ = strconv.ParseFloat(pr.Format.Duration, 64)
	return video, audio, seconds
}

func TestRelayToNginx(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := newSource(t, 6)
	n := startNginx(t, "", "")
	var logs testenv.LogBuffer
	r, err := Start(Config{Kind: "custom", URL: "rtmp://" + n.Addr + "/live/" + testKey,
		Logger: logs.Logger(), QueuePackets: 4096}, src.video, src.audio)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, src.packets)
	testenv.WaitFor(t, 15*time.Second, func() bool {
		s := r.Status()
		return s.PacketsSent+s.Dropped == int64(len(src.packets))
	}, "every packet sent")
	r.Close()
	st := r.Status()
	if st.State != Stopped || st.Destination != "rtmp://"+n.Addr || st.Kind != "custom" || st.BytesSent == 0 {
		t.Errorf("status after Close: %+v", st)
	}
	if st.Dropped > 2 { // only audio before the first keyframe may go
		t.Errorf("dropped %d packets with room in the queue", st.Dropped)
	}
	checkNoKey(t, &logs, r)
	n.Stop(t)

	video, audio, d := probeDuration(t, n.recording(testKey))
	if video == nil || video.CodecName != "h264" || video.Width != 320 || video.Height != 240 {
		t.Errorf("recorded video: %+v", video)
	}
	if audio == nil || audio.CodecName != "aac" || audio.SampleRate != "44100" {
		t.Errorf("recorded audio: %+v", audio)
	}
	t.Logf("source %.2f s, recorded %.2f s, status %+v", src.duration(), d, st)
	if want := src.duration(); d < want-gopSeconds || d > want+gopSeconds {
		t.Errorf("recorded %.2f s, the source is %.2f s", d, want)
	}
	pkts := testenv.ProbePackets(t, n.recording(testKey), "v:0")
	if len(pkts) == 0 || !strings.HasPrefix(pkts[0].Flags, "K") {
		t.Errorf("the recording does not start with a keyframe: %+v", pkts[:min(1, len(pkts))])
	}
}

func TestRelayRTMPS(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := newSource(t, 4)
	n := startNginx(t, "", "")
	addr, pool := startTLSTerminator(t, n.Addr)
	var logs testenv.LogBuffer
	r, err := Start(Config{Kind: "facebook", URL: "rtmps://" + addr + "/live/" + testKey,
		TLS: &tls.Config{RootCAs: pool}, Logger: logs.Logger(), QueuePackets: 4096}, src.video, src.audio)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, src.packets)
	testenv.WaitFor(t, 15*time.Second, func() bool {
		s := r.Status()
		return s.PacketsSent+s.Dropped == int64(len(src.packets))
	}, "every packet sent over TLS")
	r.Close()
	if st := r.Status(); st.Destination != "rtmps://"+addr || st.Reconnects != 0 {
		t.Errorf("status: %+v", st)
	}
	checkNoKey(t, &logs, r)
	n.Stop(t)
	video, audio, d := probeDuration(t, n.recording(testKey))
	if video == nil || audio == nil || d < src.duration()-gopSeconds {
		t.Errorf("recording over RTMPS: video %+v, audio %+v, %.2f s", video, audio, d)
	}
}

// startTLSTerminator listens for TLS on 127.0.0.1 with a new self-signed
// certificate and proxies each connection to backend in plain TCP, as a
// CDN's RTMPS edge does. It returns its address and a pool trusting it.
func startTLSTerminator(t *testing.T, backend string) (string, *x509.CertPool) {
	t.Helper()
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "relay test", certFile, keyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := ca.Pool
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, b)
			mu.Unlock()
			// Close as a proxy must: when the client is done, half-close
			// towards nginx and keep reading nginx until it closes. A full
			// close with nginx's answers unread would reset the
			// connection, and nginx would drop what it had not read yet.
			wg.Go(func() { _, _ = io.Copy(b, c); _ = b.(*net.TCPConn).CloseWrite() })
			wg.Go(func() {
				_, _ = io.Copy(c, b)
				_, _ = io.Copy(io.Discard, b)
				c.Close()
				b.Close()
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String(), pool
}

func TestRelayReconnects(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := newSource(t, 8)
	n := startNginx(t, "", "")
	var logs testenv.LogBuffer
	r, err := Start(Config{Kind: "youtube", URL: "rtmp://" + n.Addr + "/live/" + testKey, Logger: logs.Logger(),
		QueuePackets: 4096, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, src.video, src.audio)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The first half, up to the keyframe at 4 s.
	half := 0
	for i, p := range src.packets {
		if p.Kind == media.Video && p.Keyframe && p.DTS-src.packets[0].DTS >= 4*media.ClockRate {
			half = i
			break
		}
	}
	if half == 0 {
		t.Fatal("no keyframe at 4 s in the source")
	}
	feed(t, r, src.packets[:half])
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s := r.Status()
		return s.PacketsSent+s.Dropped == int64(half)
	}, "the first half sent")
	first := r.Status()
	if first.State != Live || first.Reconnects != 0 {
		t.Fatalf("status before the crash: %+v", first)
	}

	n.Kill()
	n2 := startNginx(t, n.Addr, "")
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s := r.Status()
		return s.Reconnects >= 1 && s.State == Live
	}, "the relay to reconnect to the restarted nginx")
	if r.Status().LastError == "" {
		t.Errorf("no LastError after a lost connection")
	}
	feed(t, r, src.packets[half:])
	testenv.WaitFor(t, 10*time.Second, func() bool {
		return r.Status().PacketsSent >= first.PacketsSent+int64(len(src.packets)-half)*9/10
	}, "the second half sent")
	r.Close()
	checkNoKey(t, &logs, r)
	n2.Stop(t)
	pkts := testenv.ProbePackets(t, n2.recording(testKey), "v:0")
	if len(pkts) < 30 || !strings.HasPrefix(pkts[0].Flags, "K") {
		t.Errorf("the recording after the restart has %d video packets (want ≥ 30, from a keyframe)", len(pkts))
	}
}

func TestRelayUnresponsiveDestination(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	addr := testenv.SilentListener(t)
	var logs testenv.LogBuffer
	r, err := Start(Config{Kind: "twitch", URL: "rtmp://" + addr + "/app/" + testKey, Logger: logs.Logger(),
		QueuePackets: 16, DialTimeout: 200 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		testVideo(), nil)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthPackets(5000))
	testenv.WaitFor(t, 5*time.Second, func() bool {
		s := r.Status()
		return s.State == Retrying && s.Reconnects >= 1
	}, "the relay to give up on the silent destination and retry")
	st := r.Status()
	if !strings.Contains(st.LastError, "did not answer") || st.Dropped == 0 || st.PacketsSent != 0 {
		t.Errorf("status: %+v", st)
	}
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	checkNoKey(t, &logs, r)
}

// TestRelayCloseDuringHandshake closes a relay stuck in a handshake that
// would last DialTimeout (10 s): Close must still return in about 2 s.
func TestRelayCloseDuringHandshake(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	addr := testenv.SilentListener(t)
	r, err := Start(Config{URL: "rtmp://" + addr + "/app/" + testKey}, testVideo(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.WritePacket(synthPackets(1)[0])
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("Close took %v", d)
	}
	if s := r.Status(); s.State != Stopped {
		t.Errorf("state after Close: %s", s.State)
	}
}

func TestWritePacketDropsUntilKeyframe(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	// The handshake never ends, so nothing reads the queue but this test.
	addr := testenv.SilentListener(t)
	r, err := Start(Config{URL: "rtmp://" + addr + "/app/" + testKey, QueuePackets: 4}, testVideo(), testAudio())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	key := &media.Packet{Kind: media.Video, Keyframe: true, Data: []byte{0, 0, 0, 1, 0x65}}
	inter := &media.Packet{Kind: media.Video, Data: []byte{0, 0, 0, 1, 0x41}}
	audio := &media.Packet{Kind: media.Audio, Keyframe: true, Data: []byte{1}}
	for _, p := range []*media.Packet{key, inter, inter, inter} {
		r.WritePacket(p)
	}
	r.WritePacket(inter) // full: dropped, and so is all until a keyframe
	for range 4 {
		<-r.queue
	}
	r.WritePacket(audio)
	r.WritePacket(inter)
	if d := r.Status().Dropped; d != 3 {
		t.Errorf("dropped %d, want 3 (the packet that found the queue full, then audio and an inter frame)", d)
	}
	r.WritePacket(key)
	r.WritePacket(audio)
	if got := <-r.queue; got != key {
		t.Errorf("after drops, the first queued packet is %+v, want the keyframe", got)
	}
	if got := <-r.queue; got != audio {
		t.Errorf("after the keyframe, got %+v, want the audio packet", got)
	}
}

func testVideo() *media.VideoParams {
	// avcC: version 1, High profile, 4-byte lengths, one tiny SPS and PPS.
	return &media.VideoParams{Codec: media.H264, Width: 320, Height: 240,
		Extradata: []byte{1, 0x64, 0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1e, 1, 0, 2, 0x68, 0xee}}
}

func testAudio() *media.AudioParams {
	return &media.AudioParams{Codec: media.AAC, SampleRate: 48000, Channels: 2, Extradata: []byte{0x11, 0x90}}
}

// synthPackets returns n video packets at 30 fps, a keyframe every 60.
func synthPackets(n int) []*media.Packet {
	ps := make([]*media.Packet, n)
	for i := range ps {
		ts := int64(i) * media.ClockRate / 30
		ps[i] = &media.Packet{Kind: media.Video, PTS: ts, DTS: ts, Keyframe: i%60 == 0, Data: []byte{0, 0, 0, 1, 0x41}}
	}
	return ps
}

// TestRelayRefusedPublish publishes to an nginx that refuses every publish
// (as a destination refuses a wrong key: it hangs up).
func TestRelayRefusedPublish(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	n := startNginx(t, "", "deny publish all;")
	var logs testenv.LogBuffer
	r, err := Start(Config{URL: "rtmp://" + n.Addr + "/live/" + testKey, Logger: logs.Logger(),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}, testVideo(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	feed(t, r, synthPackets(10))
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s := r.Status()
		return s.State == Retrying && s.LastError != ""
	}, "the refused publish to be reported")
	if st := r.Status(); !strings.Contains(st.LastError, "refused") {
		t.Errorf("LastError %q does not say the publish was refused", st.LastError)
	}
	r.Close()
	checkNoKey(t, &logs, r)
}

// TestCloseSendsTheTail: the last packets of a stream, written just
// before Close, reach the destination rather than being cut.
func TestCloseSendsTheTail(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := newSource(t, 4)
	n := startNginx(t, "", "")
	r, err := Start(Config{Kind: "custom", URL: "rtmp://" + n.Addr + "/live/" + testKey, QueuePackets: 4096}, src.video, src.audio)
	if err != nil {
		t.Fatal(err)
	}
	// The first 2 s, sent; then the last 2 s at once, and Close.
	half := len(src.packets) / 2
	feed(t, r, src.packets[:half])
	testenv.WaitFor(t, 15*time.Second, func() bool {
		s := r.Status()
		return s.State == Live && s.PacketsSent+s.Dropped == int64(half)
	}, "the first half sent")
	feed(t, r, src.packets[half:])
	queued := int64(len(src.packets)) - r.Status().PacketsSent - r.Status().Dropped
	r.Close()
	st := r.Status()
	if st.PacketsSent+st.Dropped != int64(len(src.packets)) || st.Dropped > 2 {
		t.Errorf("after Close: %d sent, %d dropped of %d packets (%d were queued at Close)", st.PacketsSent, st.Dropped, len(src.packets), queued)
	}
	n.Stop(t)
	_, _, d := probeDuration(t, n.recording(testKey))
	if want := src.duration(); d < want-0.1 {
		t.Errorf("recorded %.2f s of %.2f s: the tail was cut", d, want)
	}
}
