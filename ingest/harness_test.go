package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
	"github.com/sirupsen/logrus"
	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	"github.com/yutopp/go-rtmp/message"
)

// Stream keys and relay keys of the tests: distinctive, so that finding
// one in a log line, a status message or an error is a leak.
const (
	keyAlpha    = "sk_alpha_5f0c9e27b1d84a6e"
	keyBravo    = "sk_bravo_93ad1c70e2f54b18"
	wrongKey    = "sk_wrong_0b7e4c1d2a9f8e63"
	relaySecret = "tw_live_relaysecret_4411"
)

var secretsOfTests = []string{keyAlpha, keyBravo, wrongKey, relaySecret}

// harness is a Server on 127.0.0.1 with an in-test Authenticator and a
// Handler that hands out recording Sinks, its logs in a buffer.
type harness struct {
	t       *testing.T
	srv     *Server
	addr    string
	auth    *testAuth
	handler *testHandler
	logs    *lockedBuffer
	served  chan error
}

func newHarness(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	checkGoroutines := testenv.CheckGoroutines(t)
	t.Cleanup(checkGoroutines)
	h := &harness{
		t: t,
		auth: &testAuth{keys: map[string]registry.Channel{
			keyAlpha: {ID: "ch_alpha", Name: "alpha", PlaybackID: "pb_alpha"},
			keyBravo: {ID: "ch_bravo", Name: "bravo", PlaybackID: "pb_bravo"},
		}},
		handler: &testHandler{sinks: make(chan *testSink, 16)},
		logs:    &lockedBuffer{},
		served:  make(chan error, 1),
	}
	cfg := Config{
		Auth:    h.auth,
		Handler: h.handler,
		Logger:  slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv, h.addr = srv, l.Addr().String()
	go func() { h.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-h.served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		h.checkNoSecrets(h.logs.String(), "the logs")
		if t.Failed() || os.Getenv("INGEST_LOGS") != "" {
			t.Logf("server logs:\n%s", h.logs.String())
		}
	})
	return h
}

// url is the publish URL of key (with a relay query, as users add).
func (h *harness) url(app, key string) string {
	return fmt.Sprintf("rtmp://%s/%s/%s?twitch=%s&twitch_bandwidth=6000", h.addr, app, key, relaySecret)
}

func (h *harness) checkNoSecrets(text, where string) {
	h.t.Helper()
	for _, s := range secretsOfTests {
		if strings.Contains(text, s) {
			h.t.Errorf("%s contain the secret %q", where, s)
		}
	}
}

// sink waits for the next publish the Handler accepted.
func (h *harness) sink() *testSink {
	h.t.Helper()
	select {
	case s := <-h.handler.sinks:
		return s
	case <-time.After(15 * time.Second):
		h.t.Fatal("no publish reached the Handler")
		return nil
	}
}

// ffmpeg runs the ffmpeg CLI with args until it exits (or timeout), and
// returns its error and output.
func ffmpeg(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	cmd := startFFmpeg(t, timeout, args...)
	err := cmd.Wait()
	return cmd.Stderr.(*lockedBuffer).String(), err
}

// startFFmpeg starts the ffmpeg CLI; the test's end kills it if still running.
func startFFmpeg(t *testing.T, timeout time.Duration, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, testenv.NeedTool(t, "ffmpeg"), append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	cmd.Stderr = &lockedBuffer{}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait() // reaped, whatever the test did
	})
	return cmd
}

// waitExit waits for a started ffmpeg and returns its error.
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("ffmpeg still running after %v", within)
		return nil
	}
}

func (l *lockedBuffer) String() string { return string(l.Bytes()) }

// testAuth is an Authenticator over a map of keys.
type testAuth struct {
	mu    sync.Mutex
	keys  map[string]registry.Channel
	err   error // returned for every lookup when set: the registry is down
	calls int
	seen  []string
}

func (a *testAuth) Authenticate(_ context.Context, key string) (registry.Channel, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	a.seen = append(a.seen, key)
	if a.err != nil {
		return registry.Channel{}, a.err
	}
	ch, ok := a.keys[key]
	if !ok {
		return registry.Channel{}, registry.ErrUnknownKey
	}
	return ch, nil
}

func (a *testAuth) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

func (a *testAuth) keysSeen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func (a *testAuth) lookups() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls
}

// testHandler accepts every publish with a new testSink, unless refuse is
// set.
type testHandler struct {
	mu     sync.Mutex
	calls  int
	refuse error
	sinks  chan *testSink
	// configure, when set, prepares each sink before ingest sees it.
	configure func(*testSink)
}

func (h *testHandler) Publish(ctx context.Context, ch registry.Channel, info PublishInfo) (Sink, error) {
	h.mu.Lock()
	h.calls++
	refuse, configure := h.refuse, h.configure
	h.mu.Unlock()
	if refuse != nil {
		return nil, refuse
	}
	s := &testSink{ch: ch, info: info, ctx: ctx, started: make(chan struct{}), done: make(chan struct{}), ended: make(chan struct{}), enough: make(chan struct{})}
	s.enoughAt = 30
	if configure != nil {
		configure(s)
	}
	h.sinks <- s
	return s, nil
}

// set changes the handler while the server runs.
func (h *testHandler) set(refuse error, configure func(*testSink)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse, h.configure = refuse, configure
}

func (h *testHandler) publishes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// testSink records what a publish delivers.
type testSink struct {
	ch   registry.Channel
	info PublishInfo
	ctx  context.Context

	mu        sync.Mutex
	video     *media.VideoParams
	audio     *media.AudioParams
	starts    int
	packets   []*media.Packet
	endErr    error
	ends      int
	writeErr  func(n int) error // the error WritePacket returns for the nth packet
	enoughAt  int
	started   chan struct{}
	enough    chan struct{} // closed at enoughAt packets
	done      chan struct{}
	doneOnce  sync.Once
	ended     chan struct{}
	outOfTurn []string // calls made in the wrong order
	reconnect bool     // Reconnect's answer
}

// Reconnect is the Sink's wish that its publisher publish again.
func (s *testSink) Reconnect() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnect
}

func (s *testSink) Start(v *media.VideoParams, a *media.AudioParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	if s.starts > 1 || s.ends > 0 {
		s.outOfTurn = append(s.outOfTurn, "Start")
	}
	s.video, s.audio = v, a
	if s.starts == 1 {
		close(s.started)
	}
	return nil
}

func (s *testSink) WritePacket(p *media.Packet) error {
	s.mu.Lock()
	if s.starts == 0 || s.ends > 0 {
		s.outOfTurn = append(s.outOfTurn, "WritePacket")
	}
	s.packets = append(s.packets, p)
	n := len(s.packets)
	if n == s.enoughAt {
		close(s.enough)
	}
	writeErr := s.writeErr
	s.mu.Unlock()
	if writeErr != nil {
		return writeErr(n) // may block, as backpressure does
	}
	return nil
}

func (s *testSink) Done() <-chan struct{} { return s.done }

func (s *testSink) End(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ends++
	if s.ends > 1 {
		s.outOfTurn = append(s.outOfTurn, "End")
		return
	}
	s.endErr = err
	close(s.ended)
}

// stop closes Done, as live does when the key is revoked.
func (s *testSink) stop() { s.doneOnce.Do(func() { close(s.done) }) }

// wait waits for End and returns its error.
func (s *testSink) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(15 * time.Second):
		t.Fatal("the Sink was not ended")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outOfTurn) > 0 {
		t.Errorf("Sink calls out of turn: %v", s.outOfTurn)
	}
	return s.endErr
}

func (s *testSink) waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-s.ended:
		t.Fatalf("the publish ended (%v) before %s", s.endErr, what)
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func (s *testSink) received() (v *media.VideoParams, a *media.AudioParams, packets []*media.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.video, s.audio, append([]*media.Packet(nil), s.packets...)
}

// rtmpClient is go-rtmp's client, published on key: a real client that
// lets a test send tags FFmpeg never would.
type rtmpClient struct {
	cc     *rtmp.ClientConn
	stream *rtmp.Stream
}

func dialPublish(t *testing.T, addr, key string) *rtmpClient {
	t.Helper()
	cc, err := rtmp.Dial("rtmp", addr, &rtmp.ConnConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return publishOn(t, cc, key)
}

// publishOn publishes key on the connection cc (closed at the test's
// end): connect to the stream app, create a stream, publish.
func publishOn(t *testing.T, cc *rtmp.ClientConn, key string) *rtmpClient {
	t.Helper()
	t.Cleanup(func() { cc.Close() })
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{App: "stream", Type: "nonprivate"}}); err != nil {
		t.Fatal(err)
	}
	stream, err := cc.CreateStream(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		t.Fatal(err)
	}
	return &rtmpClient{cc: cc, stream: stream}
}

// quietLogger is go-rtmp's client logger, silenced.
func quietLogger() *logrus.Logger {
	quiet := logrus.New()
	quiet.Out = io.Discard
	return quiet
}

func (c *rtmpClient) video(t *testing.T, ts uint32, body []byte) error {
	t.Helper()
	return c.stream.Write(6, ts, &message.VideoMessage{Payload: bytes.NewReader(body)})
}

// rawConn is a TCP connection to the server that has done the RTMP
// handshake as go-rtmp's client does it, for tests that then send bytes
// of their own.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := handshakeClient(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads from c until the server closes it and returns how
// long that took, failing the test past limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %v", limit)
		}
		return time.Since(start)
	}
}

func handshakeClient(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	return handshake.HandshakeWithServer(c, c, &handshake.Config{})
}
