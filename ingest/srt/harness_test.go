package srt

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
)

// Stream keys of the tests: distinctive, so that finding one in a log line
// is a leak.
const (
	keyAlpha = "sk_alpha_5f0c9e27b1d84a6e"
	keyBravo = "sk_bravo_93ad1c70e2f54b18"
	wrongKey = "sk_wrong_0b7e4c1d2a9f8e63"
)

// harness is an SRT Server on 127.0.0.1 in front of an ingest.Server with
// an in-test Authenticator and a Handler that hands out recording Sinks.
type harness struct {
	t      *testing.T
	ing    *ingest.Server
	srv    *Server
	addr   string // host:port
	sinks  chan *testSink
	logs   *lockedBuffer
	served chan error
}

func newHarness(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	return newHarnessSink(t, configure, false)
}

// newHarnessSink is newHarness whose Sinks only count packets when discard
// is set.
func newHarnessSink(t *testing.T, configure func(*Config), discard bool) *harness {
	t.Helper()
	t.Cleanup(testenv.CheckGoroutines(t))
	h := &harness{t: t, sinks: make(chan *testSink, 16), logs: &lockedBuffer{}, served: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	auth := testAuth{
		keyAlpha: {ID: "ch_alpha", PlaybackID: "pb_alpha"},
		keyBravo: {ID: "ch_bravo", PlaybackID: "pb_bravo"},
	}
	ing, err := ingest.NewServer(ingest.Config{Auth: auth, Handler: testHandler{h.sinks, discard}, Logger: log, StartTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Ingest: ing, Logger: log}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.ing, h.srv, h.addr = ing, srv, srv.Addr().String()
	go func() { h.served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-h.served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		for _, k := range []string{keyAlpha, keyBravo, wrongKey} {
			if strings.Contains(h.logs.String(), k) {
				t.Errorf("a stream key is in the logs:\n%s", h.logs)
			}
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", h.logs)
		}
	})
	return h
}

// url is the srt:// URL the ffmpeg CLI publishes to with streamID.
func (h *harness) url(streamID string, extra ...string) string {
	q := "streamid=" + streamID + "&mode=caller&latency=120000" // ffmpeg's latency is in µs
	for _, e := range extra {
		q += "&" + e
	}
	return "srt://" + h.addr + "?" + q
}

// sink waits for the next publish the Handler accepted.
func (h *harness) sink(timeout time.Duration) *testSink {
	h.t.Helper()
	select {
	case s := <-h.sinks:
		return s
	case <-time.After(timeout):
		h.t.Fatalf("no publish within %v", timeout)
		return nil
	}
}

// publishFFmpeg has the ffmpeg CLI send src (copied, in real time) to url
// as MPEG-TS, and returns a function that waits for its exit.
func publishFFmpeg(t *testing.T, src, url string) func() error {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	return runClient(t, exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", src, "-c", "copy", "-f", "mpegts", url))
}

// runClient starts cmd and returns a function that waits for its exit
// (an error with its stderr). The test's end kills it.
func runClient(t *testing.T, cmd *exec.Cmd) func() error {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var err error
	go func() {
		err = cmd.Wait()
		if err != nil {
			err = errors.New(err.Error() + ": " + stderr.String())
		}
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return func() error {
		select {
		case <-exited:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("client still running after 30s")
		}
	}
}

type testAuth map[string]registry.Channel

func (a testAuth) Authenticate(_ context.Context, key string) (registry.Channel, error) {
	if ch, ok := a[key]; ok {
		return ch, nil
	}
	return registry.Channel{}, registry.ErrUnknownKey
}

type testHandler struct {
	sinks   chan *testSink
	discard bool
}

func (h testHandler) Publish(_ context.Context, ch registry.Channel, info ingest.PublishInfo) (ingest.Sink, error) {
	s := &testSink{ch: ch, info: info, discard: h.discard, started: make(chan struct{}), ended: make(chan struct{}), done: make(chan struct{})}
	h.sinks <- s
	return s, nil
}

// testSink records what a publish wrote.
type testSink struct {
	ch   registry.Channel
	info ingest.PublishInfo

	mu      sync.Mutex
	video   *media.VideoParams
	audio   *media.AudioParams
	packets []media.Packet // without Data
	sizes   []int
	// discard keeps only counts (the ingest CPU benchmark).
	discard        bool
	nVideo, nAudio int
	err            error
	started        chan struct{}
	ended          chan struct{}
	done           chan struct{}
}

func (s *testSink) Start(v *media.VideoParams, a *media.AudioParams) error {
	s.mu.Lock()
	s.video, s.audio = v, a
	s.mu.Unlock()
	close(s.started)
	return nil
}

func (s *testSink) WritePacket(p *media.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Kind == media.Video {
		s.nVideo++
	} else {
		s.nAudio++
	}
	if s.discard {
		return nil
	}
	q := *p
	q.Data = nil
	s.packets = append(s.packets, q)
	s.sizes = append(s.sizes, len(p.Data))
	return nil
}

func (s *testSink) Done() <-chan struct{} { return s.done }

func (s *testSink) End(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.ended)
}

// wait waits for End and returns its reason.
func (s *testSink) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(timeout):
		t.Fatalf("publish of %s did not end within %v", s.ch.ID, timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// count returns the packets of kind written.
func (s *testSink) count(kind media.Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == media.Video {
		return s.nVideo
	}
	return s.nAudio
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
