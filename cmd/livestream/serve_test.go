package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

// server is a `livestream serve` running in this process on free ports.
type server struct {
	t       *testing.T
	cfg     Config
	logs    *testenv.LogBuffer
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	traffic bytes.Buffer // every HTTP response body the test saw
}

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts a server whose config configure may change first.
func startServerWith(t *testing.T, configure func(*Config)) *server {
	t.Helper()
	testenv.NeedTool(t, "ffmpeg")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transcode = pipeline.Config{
		SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second, PlaylistWindow: 4,
		// One rendition keeps several live encodes real-time on 2 cores.
		Ladder: []pipeline.Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}},
	}.WithDefaults()
	cfg.Serve.RTMPAddr = testenv.FreeAddr(t)
	cfg.Serve.HTTPAddr = testenv.FreeAddr(t)
	cfg.Serve.AdminAddr = testenv.FreeAddr(t)
	cfg.Serve.DataDir = t.TempDir()
	cfg.Serve.AdminToken = "test-admin-token"
	cfg.Serve.Grace = 3 * time.Second
	if configure != nil {
		configure(&cfg)
	}
	s := &server{t: t, cfg: cfg, logs: &testenv.LogBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- serve(ctx, cfg, s.logs.Logger()) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})
	testenv.WaitFor(t, 10*time.Second, func() bool {
		code, _ := s.tryGet("/healthz")
		return code == 200
	}, "the server's /healthz")
	return s
}

// stop shuts the server down as SIGTERM does and returns serve's error.
func (s *server) stop() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatal("serve did not return within 30 s of shutdown")
		return nil
	}
}

func (s *server) tryGet(path string) (int, []byte) {
	resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.mu.Lock()
	s.traffic.Write(b)
	fmt.Fprintln(&s.traffic, resp.Header)
	s.mu.Unlock()
	return resp.StatusCode, b
}

func (s *server) get(path string) []byte {
	s.t.Helper()
	code, b := s.tryGet(path)
	if code != 200 {
		s.t.Fatalf("GET %s: status %d: %s", path, code, b)
	}
	return b
}

func (s *server) admin(method, path string) (int, []byte) {
	s.t.Helper()
	return s.adminJSON(method, path, "")
}

type channelKeys struct {
	ChannelID  string `json:"channel_id"`
	StreamKey  string `json:"stream_key"`
	PlaybackID string `json:"playback_id"`
}

// createChannel uses the CLI against the server's data directory, as a
// user would while the server runs.
func (s *server) createChannel(name string) channelKeys {
	s.t.Helper()
	code, stdout, stderr := runCLI(s.t, "keys", "create", name, "--json", "--data-dir", s.cfg.Serve.DataDir)
	if code != 0 {
		s.t.Fatalf("keys create: exit %d: %s", code, stderr)
	}
	var k channelKeys
	if err := json.Unmarshal([]byte(stdout), &k); err != nil || k.StreamKey == "" || k.PlaybackID == "" {
		s.t.Fatalf("keys create --json printed %q (%v)", stdout, err)
	}
	return k
}

// publisher is an ffmpeg CLI publishing a test pattern over RTMP.
type publisher struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

func (s *server) publish(key string, seconds float64) *publisher {
	s.t.Helper()
	return s.publishSize(key, seconds, "640x360")
}

func (s *server) publishSize(key string, seconds float64, size string) *publisher {
	s.t.Helper()
	return s.publishURL(key, seconds, size)
}

// publishURL publishes to stream/<key>, which may carry a query.
func (s *server) publishURL(key string, seconds float64, size string) *publisher {
	s.t.Helper()
	p := &publisher{done: make(chan error, 1)}
	p.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.FormatFloat(seconds, 'f', -1, 64),
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2", "-f", "flv", "rtmp://"+s.cfg.Serve.RTMPAddr+"/stream/"+key)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	s.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *publisher) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("ffmpeg still publishing after %v", timeout)
		return nil
	}
}

var (
	mediaSeqRe = regexp.MustCompile(`#EXT-X-MEDIA-SEQUENCE:(\d+)`)
	segRe      = regexp.MustCompile(`(?m)^(\d+)\.(?:ts|m4s)$`)
)

func mediaSequence(pl []byte) int64 {
	m := mediaSeqRe.FindSubmatch(pl)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// segExt is the extension of pl's segments: ".m4s" (fMP4, the default)
// or ".ts".
func segExt(pl []byte) string {
	if bytes.Contains(pl, []byte("#EXT-X-MAP:")) {
		return ".m4s"
	}
	return ".ts"
}

var mapRe = regexp.MustCompile(`(?m)^#EXT-X-MAP:URI="([^"]+)"`)

// playableSegment fetches segment seg of the media playlist pl at dir
// (an HLS URL path) as a file a demuxer reads alone: a TS segment, or an
// fMP4 one after its init section. It returns the file's extension too.
func (s *server) playableSegment(dir string, pl []byte, seg string) ([]byte, string) {
	s.t.Helper()
	if segExt(pl) == ".ts" {
		return s.get(dir + "/" + seg + ".ts"), ".ts"
	}
	m := mapRe.FindSubmatch(pl)
	if m == nil {
		s.t.Fatalf("fMP4 playlist without EXT-X-MAP:\n%s", pl)
	}
	return append(s.get(dir+"/"+string(m[1])), s.get(dir+"/"+seg+".m4s")...), ".mp4"
}

func segments(pl []byte) []string {
	var s []string
	for _, m := range segRe.FindAllSubmatch(pl, -1) {
		s = append(s, string(m[1]))
	}
	return s
}

// TestServePublishAndWatch is a user's whole session: create a channel,
// publish with ffmpeg, watch over HTTP while the playlist slides, get
// refused with a wrong key or as a second publisher, end, publish again,
// and see the stream removed after the grace period. The stream key never
// shows in any HTTP response or log line.
func TestServePublishAndWatch(t *testing.T) {
	s := startServer(t)
	k := s.createChannel("my channel")
	hls := "/hls/" + k.PlaybackID

	if code, _ := s.tryGet(hls + "/live.m3u8"); code != 404 {
		t.Errorf("master of a channel that is not live: status %d, want 404", code)
	}
	pub := s.publish(k.StreamKey, 12)
	testenv.WaitFor(t, 20*time.Second, func() bool { code, _ := s.tryGet(hls + "/live.m3u8"); return code == 200 }, "the master playlist")
	master := s.get(hls + "/live.m3u8")
	if !bytes.Contains(master, []byte("360p/index.m3u8")) || !bytes.Contains(master, []byte("avc1.4d")) {
		t.Errorf("master playlist:\n%s", master)
	}

	// Wrong keys are refused. A second publisher of a live channel takes
	// the stream over (the first may be a half-open connection): the first
	// is disconnected.
	bad := s.publish("sk_"+strings.Repeat("a", 32), 2)
	if err := bad.wait(t, 15*time.Second); err == nil {
		t.Error("a publish with an unknown key succeeded")
	}
	second := s.publish(k.StreamKey, 12)
	if err := pub.wait(t, 15*time.Second); err == nil {
		t.Error("the publisher taken over by a second one was not disconnected")
	}
	pub = second

	// The live playlist slides: its media sequence advances across polls.
	var first []byte
	testenv.WaitFor(t, 20*time.Second, func() bool {
		_, first = s.tryGet(hls + "/360p/index.m3u8")
		return len(segments(first)) >= 2
	}, "two segments")
	seq0 := mediaSequence(first)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		_, pl := s.tryGet(hls + "/360p/index.m3u8")
		return mediaSequence(pl) > seq0 || bytes.Contains(pl, []byte("ENDLIST"))
	}, "the media sequence to advance")
	if bytes.Contains(first, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("live playlist already ended:\n%s", first)
	}

	// A segment, fetched as a player does, is valid H.264 main and AAC
	// in fMP4 (after its init section).
	seg := segments(first)[0]
	data, ext := s.playableSegment(hls+"/360p", first, seg)
	if ext != ".mp4" {
		t.Errorf("segments are %s, want fMP4 by default", ext)
	}
	path := filepath.Join(t.TempDir(), "seg"+ext)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pr := testenv.Probe(t, path)
	var sawVideo, sawAudio bool
	for _, st := range pr.Streams {
		switch st.CodecType {
		case "video":
			sawVideo = true
			if st.CodecName != "h264" || st.Profile != "Main" || st.Width != 640 || st.Height != 360 {
				t.Errorf("segment video: %+v", st)
			}
		case "audio":
			sawAudio = true
			if st.CodecName != "aac" || st.SampleRate != "48000" {
				t.Errorf("segment audio: %+v", st)
			}
		}
	}
	if !sawVideo || !sawAudio {
		t.Errorf("segment streams: %+v", pr.Streams)
	}

	// The admin API lists the live stream.
	code, body := s.admin("GET", "/api/streams")
	if code != 200 || !bytes.Contains(body, []byte(k.PlaybackID)) || !bytes.Contains(body, []byte(`"live":true`)) {
		t.Errorf("GET /api/streams: %d %s", code, body)
	}
	metrics := s.get("/metrics")
	if !bytes.Contains(metrics, []byte("livestream_streams_live 1")) ||
		!bytes.Contains(metrics, []byte(`livestream_encode_fps{playback_id="`+k.PlaybackID+`",rendition="360p"}`)) {
		t.Errorf("metrics lack the live stream:\n%s", metrics)
	}

	// The publisher ends: the playlist gets ENDLIST and stays for the grace period.
	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	var last []byte
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, last = s.tryGet(hls + "/360p/index.m3u8")
		return bytes.Contains(last, []byte("#EXT-X-ENDLIST"))
	}, "ENDLIST after unpublish")
	lastSegs := segments(last)

	// Publishing again at once works, with segment numbers above the old ones.
	again := s.publish(k.StreamKey, 4)
	if err := again.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publish again: %v: %s", err, again.stderr.String())
	}
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, pl := s.tryGet(hls + "/360p/index.m3u8")
		segs := segments(pl)
		return len(segs) > 0 && bytes.Contains(pl, []byte("ENDLIST")) && numeric(segs[0]) > numeric(lastSegs[len(lastSegs)-1])
	}, "the second stream's segments, numbered above the first's")

	// After the grace period the stream is gone.
	testenv.WaitFor(t, 15*time.Second, func() bool { code, _ := s.tryGet(hls + "/live.m3u8"); return code == 404 }, "the stream's removal after the grace period")

	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "publish started") {
		t.Errorf("the log has no publish:\n%s", logs)
	}
	if strings.Contains(logs, k.StreamKey) {
		t.Errorf("the stream key appears in the log")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Contains(s.traffic.Bytes(), []byte(k.StreamKey)) {
		t.Errorf("the stream key appears in an HTTP response")
	}
}

func numeric(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// TestServeTwoChannelsAndRotate: two channels live at once stay separate,
// and rotating one's key ends its publish while the other goes on.
func TestServeTwoChannelsAndRotate(t *testing.T) {
	s := startServer(t)
	a, b := s.createChannel("a"), s.createChannel("b")
	// Different sizes tell the two streams apart.
	pa, pb := s.publish(a.StreamKey, 30), s.publishSize(b.StreamKey, 6, "426x240")
	for _, k := range []channelKeys{a, b} {
		testenv.WaitFor(t, 20*time.Second, func() bool {
			code, _ := s.tryGet("/hls/" + k.PlaybackID + "/360p/index.m3u8")
			return code == 200
		}, "both channels' playlists")
	}
	if m := s.get("/hls/" + a.PlaybackID + "/live.m3u8"); !bytes.Contains(m, []byte("RESOLUTION=640x360")) {
		t.Errorf("channel a's master playlist:\n%s", m)
	}
	if m := s.get("/hls/" + b.PlaybackID + "/live.m3u8"); !bytes.Contains(m, []byte("RESOLUTION=426x240")) {
		t.Errorf("channel b's master playlist:\n%s", m)
	}
	code, body := s.admin("POST", "/api/channels/"+a.ChannelID+"/rotate")
	if code != 200 || bytes.Contains(body, []byte(a.StreamKey)) {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if err := pa.wait(t, 20*time.Second); err == nil {
		t.Log("ffmpeg exited cleanly after the server ended its publish")
	}
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, pl := s.tryGet("/hls/" + a.PlaybackID + "/360p/index.m3u8")
		return bytes.Contains(pl, []byte("ENDLIST"))
	}, "the rotated channel's stream to end")
	select {
	case err := <-pb.done:
		pb.done <- err
		t.Errorf("rotating channel a ended channel b's publish: %v", err)
	default:
	}
	// The old key no longer publishes.
	old := s.publish(a.StreamKey, 2)
	if err := old.wait(t, 15*time.Second); err == nil {
		t.Error("the rotated-away key still publishes")
	}
	if err := pb.wait(t, 30*time.Second); err != nil {
		t.Errorf("channel b: %v: %s", err, pb.stderr.String())
	}
}

// TestServeFlagsEnvironmentAndConfig: a flag beats LIVESTREAM_<FLAG>,
// which beats the config file, which beats the default.
func TestServeFlagsEnvironmentAndConfig(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	a := fs.String("rtmp-addr", "", "")
	b := fs.String("http-addr", "", "")
	c := fs.String("data-dir", "", "")
	if err := fs.Parse([]string{"--rtmp-addr", ":1"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LIVESTREAM_RTMP_ADDR": ":2", "LIVESTREAM_HTTP_ADDR": ":3", "LIVESTREAM_DATA_DIR": ""}
	if err := flagsFromEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	set := setFlags(fs)
	if *a != ":1" || *b != ":3" || *c != "" || !set["http-addr"] || set["data-dir"] {
		t.Errorf("rtmp %q http %q data %q set %v", *a, *b, *c, set)
	}
	d := fs.Duration("grace", 0, "")
	env["LIVESTREAM_GRACE"] = "soon"
	err := flagsFromEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "LIVESTREAM_GRACE") || strings.Contains(err.Error(), "soon") {
		t.Errorf("bad LIVESTREAM_GRACE: %v (grace %v)", err, *d)
	}
}

// TestServeBadConfig fails at start with a message naming the field.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte("serve:\n  log_format: xml\n"), 0o644)
	code, _, stderr := runCLI(t, "serve", "--config", path, "--data-dir", dir)
	if code == 0 || !strings.Contains(stderr, "log_format") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--rtmp-addr", "256.0.0.1:99999", "--http-addr", testenv.FreeAddr(t),
		"--admin-addr", testenv.FreeAddr(t), "--data-dir", dir, "--log-format", "text")
	if code != 1 || !strings.Contains(stderr, "RTMP listener") {
		t.Errorf("unusable RTMP address: exit %d: %s", code, stderr)
	}
}

// TestServeWatchPageInChromium: a viewer opens the watch page before the
// channel is live, sees it offline, and the page starts playing the live
// ladder once the creator publishes.
func TestServeWatchPageInChromium(t *testing.T) {
	chromium := testenv.NeedTool(t, "chromium")
	s := startServer(t)
	k := s.createChannel("watched")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page := browser.Start(ctx, t, chromium)
	waitPage := func(expr string, timeout time.Duration, what string) {
		t.Helper()
		_, err := chromedp.Run(page, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
		if err != nil {
			t.Fatalf("waiting for %s: %v\nserver log:\n%s", what, err, s.logs.String())
		}
	}
	if err := chromedp.Do(page, chromedp.Navigate("http://"+s.cfg.Serve.HTTPAddr+"/watch/"+k.PlaybackID)); err != nil {
		t.Fatal(err)
	}
	waitPage(`document.getElementById('player').dataset.state === 'offline'`, 15*time.Second, "the offline state")
	s.publish(k.StreamKey, 20)
	waitPage(`document.getElementById('player').dataset.state === 'playing'`, 40*time.Second, "the page to play")
	waitPage(`document.getElementById('video').currentTime > 1`, 30*time.Second, "a second of live video")
	errText, err := chromedp.Run(page, chromedp.Evaluate[string](`document.getElementById('player').dataset.error || ''`))
	if err != nil || errText != "" {
		t.Errorf("player error %q (%v)", errText, err)
	}
}

// TestServeRelaysToYouTube: a publish naming ?youtube=KEY is restreamed as
// it is to the YouTube ingest URL, here a second livestream server, which
// serves it live; the relay's status shows in the admin API, the key in
// neither server's log.
func TestServeRelaysToYouTube(t *testing.T) {
	dest := startServer(t)
	dk := dest.createChannel("youtube stand-in")
	src := startServerWith(t, func(c *Config) {
		c.Serve.RelayYouTubeURL = "rtmp://" + dest.cfg.Serve.RTMPAddr + "/stream"
	})
	k := src.createChannel("relayed")
	pub := src.publishURL(k.StreamKey+"?youtube="+dk.StreamKey, 10, "640x360")
	testenv.WaitFor(t, 30*time.Second, func() bool {
		code, _ := dest.tryGet("/hls/" + dk.PlaybackID + "/360p/index.m3u8")
		return code == 200
	}, "the relayed stream live on the destination")
	code, body := src.admin("GET", "/api/streams/"+k.PlaybackID)
	if code != 200 || !bytes.Contains(body, []byte(`"kind":"youtube"`)) || !bytes.Contains(body, []byte(`"state":"live"`)) ||
		bytes.Contains(body, []byte(dk.StreamKey)) {
		t.Errorf("relay status in /api/streams/%s: %d %s", k.PlaybackID, code, body)
	}
	if !bytes.Contains(src.get("/metrics"), []byte(`livestream_relay_up{destination="youtube",destination_id="url:youtube",playback_id="`+k.PlaybackID+`"} 1`)) {
		t.Errorf("/metrics has no live youtube relay")
	}
	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	testenv.WaitFor(t, 15*time.Second, func() bool {
		_, pl := dest.tryGet("/hls/" + dk.PlaybackID + "/360p/index.m3u8")
		return bytes.Contains(pl, []byte("#EXT-X-ENDLIST"))
	}, "the relay to unpublish from the destination when the stream ends")
	_, pl := dest.tryGet("/hls/" + dk.PlaybackID + "/360p/index.m3u8")
	if n := len(segments(pl)); n < 3 {
		t.Errorf("the destination got %d segments of a 10 s stream cut every 2 s:\n%s", n, pl)
	}
	for _, logs := range []string{src.logs.String(), dest.logs.String()} {
		if strings.Contains(logs, dk.StreamKey) || strings.Contains(logs, k.StreamKey) {
			t.Errorf("a stream key appears in a log")
		}
	}
}

// adminJSON calls the admin API with a JSON body ("" for none).
func (s *server) adminJSON(method, path, body string) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.cfg.Serve.AdminAddr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.cfg.Serve.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// relayState is one relay's state and packets sent.
type relayState struct {
	State      string `json:"state"`
	Packets    int64  `json:"packets_sent"`
	Reconnects int64  `json:"reconnects"`
}

// relayStates is the state of each relay of a stream, by destination id.
func (s *server) relayStates(playbackID string) map[string]relayState {
	s.t.Helper()
	code, body := s.admin("GET", "/api/streams/"+playbackID)
	if code != 200 {
		return nil
	}
	var info struct {
		Relays []struct {
			ID string `json:"id"`
			relayState
		} `json:"relays"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		s.t.Fatalf("GET /api/streams/%s: %v: %s", playbackID, err, body)
	}
	states := map[string]relayState{}
	for _, r := range info.Relays {
		states[r.ID] = r.relayState
	}
	return states
}

// TestServeStoredDestinationsFollowTheAPI: destinations stored with a
// channel (one added with the CLI, one with the API) relay its stream, and
// enabling or disabling one through the API starts or stops its relay on
// the live stream. nginx-rtmp stands in for the platforms. No key appears
// in a log, an admin answer or the metrics.
func TestServeStoredDestinationsFollowTheAPI(t *testing.T) {
	ng, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ng.Kill)
	base := "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	src := startServerWith(t, func(c *Config) { c.Serve.RelayYouTubeURL = base })
	k := src.createChannel("stored destinations")
	const ytKey, customKey = "yt-secret-key-0001", "custom-secret-key-0002"

	// A custom destination with the CLI, its URL read from a file.
	urlFile := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(urlFile, []byte(base+"/"+customKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "keys", "destinations", "add", k.ChannelID, "--kind", "custom", "--url-file", urlFile,
		"--json", "--data-dir", src.cfg.Serve.DataDir)
	if code != 0 || strings.Contains(stdout+stderr, customKey) {
		t.Fatalf("keys destinations add: exit %d: %s %s", code, stdout, stderr)
	}
	var custom struct{ ID string }
	if err := json.Unmarshal([]byte(stdout), &custom); err != nil || custom.ID == "" {
		t.Fatalf("keys destinations add --json printed %q", stdout)
	}
	// A YouTube destination with the API, disabled for now.
	code, body := src.adminJSON("POST", "/api/channels/"+k.ChannelID+"/destinations", `{"kind":"youtube","key":"`+ytKey+`","enabled":false}`)
	var yt struct{ ID string }
	if code != 201 || json.Unmarshal(body, &yt) != nil || yt.ID == "" || bytes.Contains(body, []byte(ytKey)) {
		t.Fatalf("POST destinations: %d %s", code, body)
	}

	pub := src.publishURL(k.StreamKey, 16, "640x360")
	// ~2 s of 30 fps video and 44.1 kHz AAC.
	const twoSeconds = 2 * (30 + 43)
	relaying := func(id string) func() bool {
		return func() bool {
			r := src.relayStates(k.PlaybackID)[id]
			return r.State == "live" && r.Packets > twoSeconds
		}
	}
	testenv.WaitFor(t, 20*time.Second, relaying(custom.ID), "2 s through the custom relay")
	if st := src.relayStates(k.PlaybackID); len(st) != 1 {
		t.Errorf("relays %v: the disabled YouTube destination was started", st)
	}
	if code, body := src.adminJSON("PATCH", "/api/channels/"+k.ChannelID+"/destinations/"+yt.ID, `{"enabled":true}`); code != 200 {
		t.Fatalf("PATCH enable: %d %s", code, body)
	}
	testenv.WaitFor(t, 20*time.Second, relaying(yt.ID), "2 s through the enabled YouTube relay")
	if code, body := src.adminJSON("PATCH", "/api/channels/"+k.ChannelID+"/destinations/"+custom.ID, `{"enabled":false}`); code != 200 {
		t.Fatalf("PATCH disable: %d %s", code, body)
	}
	testenv.WaitFor(t, 20*time.Second, func() bool {
		st := src.relayStates(k.PlaybackID)
		_, stillThere := st[custom.ID]
		return !stillThere && st[yt.ID].State == "live"
	}, "the disabled custom relay gone, YouTube still live")
	metrics := src.get("/metrics")
	if !bytes.Contains(metrics, []byte(`livestream_relay_up{destination="youtube",destination_id="`+yt.ID+`"`)) {
		t.Errorf("/metrics has no youtube relay labelled %s", yt.ID)
	}
	if err := pub.wait(t, 40*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	if err := src.stop(); err != nil {
		t.Fatal(err)
	}
	if err := ng.Stop(); err != nil {
		t.Fatal(err)
	}
	// Each destination got the part of the stream it was enabled for.
	customDur := testenv.ProbeDuration(t, ng.Recording(customKey))
	ytDur := testenv.ProbeDuration(t, ng.Recording(ytKey))
	t.Logf("recorded %.1f s on the custom destination, %.1f s on YouTube", customDur, ytDur)
	if customDur < 2 || ytDur < 2 || customDur > 14 || customDur+ytDur > 16+4 {
		t.Errorf("recorded %.1f s on the custom destination and %.1f s on YouTube of a 16 s stream, toggled in between", customDur, ytDur)
	}
	for what, text := range map[string]string{"log": src.logs.String(), "metrics": string(metrics), "admin": string(body)} {
		for _, key := range []string{ytKey, customKey, k.StreamKey} {
			if strings.Contains(text, key) {
				t.Errorf("a key appears in the %s", what)
			}
		}
	}
}
