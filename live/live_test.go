package live

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/registry"
)

func TestMain(m *testing.M) {
	codec.Quiet()
	dir, err := os.MkdirTemp("", "live-test-")
	if err != nil {
		panic(err)
	}
	sourceDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testConfig keeps streams short: 2 s segments, 1 s GOPs.
// testConfig writes MPEG-TS, which most tests read back packet by
// packet; lowlatency_test.go covers fMP4.
func testConfig(t *testing.T) Config {
	return Config{
		Pipeline: pipeline.Config{SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second},
		HLS:      pipeline.HLSConfig{Format: "ts"},
		Logger:   testenv.Logger(t),
	}
}

var (
	sourceOnce sync.Once
	sourcePath string
	sourceDir  string // the package's, removed after the tests
)

// source is a 5 s 640x360 FLV with audio, made once for the package.
func source(t *testing.T) (video *media.VideoParams, audio *media.AudioParams, packets []*media.Packet) {
	t.Helper()
	sourceOnce.Do(func() {
		sourcePath = testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 5, Audio: true})
		// GenerateSource's file lives in this test's TempDir: keep a copy.
		b, err := os.ReadFile(sourcePath)
		if err != nil {
			t.Fatal(err)
		}
		sourcePath = filepath.Join(sourceDir, "src.flv")
		if err := os.WriteFile(sourcePath, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	d, err := codec.OpenFile(sourcePath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for {
		p, err := d.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, p)
	}
	return d.Video, d.Audio, packets
}

func channel(n int) registry.Channel {
	return registry.Channel{ID: "ch_" + strconv.Itoa(n), Name: "channel " + strconv.Itoa(n), PlaybackID: "pb" + strconv.Itoa(n) + "abcdefghijklm"}
}

// publish runs a whole publish of the test source on s.
func publish(t *testing.T, s *Publish) {
	t.Helper()
	video, audio, packets := source(t)
	if err := s.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		if err := s.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	s.End(nil)
}

var segLine = regexp.MustCompile(`(?m)^(\d+)\.ts$`)

func segmentNumbers(t *testing.T, playlist []byte) []int64 {
	t.Helper()
	var seqs []int64
	for _, m := range segLine.FindAllSubmatch(playlist, -1) {
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		seqs = append(seqs, n)
	}
	return seqs
}

func get(t *testing.T, st hlsmux.Store, name string) []byte {
	t.Helper()
	b, err := st.Get(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func TestPublishWritesLiveLadderThenEnds(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	m, err := NewManager(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ch := channel(1)
	if _, ok := m.Lookup(ch.PlaybackID); ok {
		t.Fatal("Lookup found a stream before any publish")
	}
	before := time.Now().UnixMilli()
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Lookup(ch.PlaybackID); ok {
		t.Error("Lookup found the stream before its codecs were known")
	}
	publish(t, s)
	st, ok := m.Lookup(ch.PlaybackID)
	if !ok {
		t.Fatal("the ended stream is gone before its grace period")
	}
	master := get(t, st, "live.m3u8")
	if !bytes.Contains(master, []byte("360p/index.m3u8")) {
		t.Errorf("master playlist does not list 360p:\n%s", master)
	}
	pl := get(t, st, "360p/index.m3u8")
	if !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("ended stream's playlist has no ENDLIST:\n%s", pl)
	}
	seqs := segmentNumbers(t, pl)
	if len(seqs) < 2 {
		t.Fatalf("want at least 2 segments of a 5 s stream cut every 2 s:\n%s", pl)
	}
	if seqs[0] < before || seqs[0] > time.Now().UnixMilli() {
		t.Errorf("first segment number %d is not the publish time in ms (between %d and now)", seqs[0], before)
	}
	for _, n := range seqs {
		ts := get(t, st, "360p/"+strconv.FormatInt(n, 10)+".ts")
		if len(ts) == 0 || len(ts)%188 != 0 || ts[0] != 0x47 {
			t.Errorf("segment %d: %d bytes, not MPEG-TS", n, len(ts))
		}
	}
	info := m.Streams()
	if len(info) != 1 || info[0].Live || info[0].EndedAt == nil || info[0].DecodedFrames != 150 || len(info[0].Renditions) != 1 {
		t.Errorf("Streams() after the end = %+v", info)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOnePublisherPerChannel: a second publish takes over, another channel
// is unaffected, and a publish after the end starts a new stream.
func TestOnePublisherPerChannel(t *testing.T) {
	m, err := NewManager(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	ch := channel(2)
	stale, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second publish of a live channel takes the stream over (the
	// first connection may be half-open): the first is disconnected, and
	// its end changes nothing for the stream.
	first, err := m.Publish(ch, "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatalf("second publisher: %v", err)
	}
	if first.Stream() != stale.Stream() {
		t.Fatal("the second publish started another stream")
	}
	select {
	case <-stale.Done():
	default:
		t.Fatal("the publisher taken over is not disconnected")
	}
	stale.End(errors.New("connection closed"))
	// Another channel is unaffected.
	other, err := m.Publish(channel(3), "127.0.0.1:5002", nil)
	if err != nil {
		t.Fatal(err)
	}
	other.End(nil)
	publish(t, first)
	st, _ := m.Lookup(ch.PlaybackID)
	firstSeqs := segmentNumbers(t, get(t, st, "360p/index.m3u8"))

	// Within the grace period the channel publishes again at once, with
	// segment numbers above every old one.
	second, err := m.Publish(ch, "127.0.0.1:5003", nil)
	if err != nil {
		t.Fatalf("publish again after the end: %v", err)
	}
	publish(t, second)
	st, _ = m.Lookup(ch.PlaybackID)
	pl := get(t, st, "360p/index.m3u8")
	seqs := segmentNumbers(t, pl)
	if len(seqs) == 0 || seqs[0] <= firstSeqs[len(firstSeqs)-1] {
		t.Errorf("the new stream's segments %v do not start above the old ones %v", seqs, firstSeqs)
	}
	if _, err := st.Get("360p/" + strconv.FormatInt(firstSeqs[0], 10) + ".ts"); !errors.Is(err, hlsmux.ErrNotFound) {
		t.Errorf("the old stream's segment is still served from the new stream's store: %v", err)
	}
}

func TestEndedStreamRemovedAfterGrace(t *testing.T) {
	cfg := testConfig(t)
	cfg.Grace = 300 * time.Millisecond
	cfg.MirrorDir = t.TempDir()
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	ch := channel(4)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s)
	mirrored := filepath.Join(cfg.MirrorDir, ch.PlaybackID, "360p", "index.m3u8")
	b, err := os.ReadFile(mirrored)
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	if !bytes.Contains(b, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("mirrored playlist has no ENDLIST")
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { _, ok := m.Lookup(ch.PlaybackID); return !ok }, "the stream to be removed after its grace period")
	if _, err := os.Stat(filepath.Join(cfg.MirrorDir, ch.PlaybackID)); !os.IsNotExist(err) {
		t.Errorf("mirrored files remain after the grace period: %v", err)
	}
	if len(m.Streams()) != 0 {
		t.Errorf("Streams() = %+v after removal", m.Streams())
	}
}

func TestKickAndShutdown(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	m, err := NewManager(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	video, audio, packets := source(t)
	// A publisher that sends until told to leave, as ingest does.
	run := func(s *Publish) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := s.Start(video, audio); err != nil {
				t.Error(err)
				return
			}
			for i := 0; ; i++ {
				select {
				case <-s.Done():
					s.End(errors.New("kicked"))
					return
				default:
				}
				p := *packets[i%len(packets)]
				loop := int64(i/len(packets)) * 5 * media.ClockRate
				p.PTS, p.DTS = p.PTS+loop, p.DTS+loop
				if err := s.WritePacket(&p); err != nil {
					t.Error(err)
					s.End(err)
					return
				}
			}
		}()
		return done
	}
	a, err := m.Publish(channel(5), "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Publish(channel(6), "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatal(err)
	}
	doneA, doneB := run(a), run(b)
	testenv.WaitFor(t, 30*time.Second, func() bool {
		return len(a.Stream().Info().Renditions) == 1 && a.Stream().Info().Renditions[0].Frames > 30
	}, "frames encoded")
	testenv.WaitFor(t, 30*time.Second, func() bool { return m.SegmentLatency().Count > 0 }, "a segment listed while live")
	if l := m.SegmentLatency(); l.P50 <= 0 || l.P99 < l.P50 {
		t.Errorf("segment latency %+v", l)
	}
	m.Kick(channel(5).ID)
	select {
	case <-doneA:
	case <-time.After(30 * time.Second):
		t.Fatal("Kick did not end the publish")
	}
	if !b.Stream().Info().Live {
		t.Error("kicking one channel ended another")
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-doneB
	st, ok := m.Lookup(channel(6).PlaybackID)
	if !ok {
		t.Fatal("stream gone right after shutdown")
	}
	if pl := get(t, st, "360p/index.m3u8"); !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("shutdown did not end the playlist:\n%s", pl)
	}
	if _, err := m.Publish(channel(7), "127.0.0.1:5002", nil); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("publish after shutdown: %v", err)
	}
}

func TestStreamWithoutMediaRefused(t *testing.T) {
	m, err := NewManager(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Publish(channel(8), "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(nil, nil)
	if !errors.Is(err, ErrNoMedia) {
		t.Fatalf("Start without video or audio: %v", err)
	}
	s.End(err)
	// Nothing was served: the channel is free at once, no grace.
	if _, ok := m.Lookup(channel(8).PlaybackID); ok {
		t.Error("a stream that never started is listed")
	}
	if _, err := m.Publish(channel(8), "127.0.0.1:5000", nil); err != nil {
		t.Errorf("publish after a refused start: %v", err)
	}
}

func TestBadConfigFailsAtStart(t *testing.T) {
	_, err := NewManager(Config{Pipeline: pipeline.Config{SegmentDuration: time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), "segment") {
		t.Fatalf("NewManager with a 1 ms segment: %v", err)
	}
}
