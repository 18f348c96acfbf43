package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
	"github.com/yutopp/go-rtmp/handshake"
)

func startProxy(t *testing.T, cfg Config) (*Proxy, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	p := New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		<-done
	})
	return p, l.Addr().String()
}

// fixedServers lists servers as given, as the registry would.
func fixedServers(s ...registry.ServerInfo) func(context.Context) ([]registry.ServerInfo, error) {
	return func(context.Context) ([]registry.ServerInfo, error) { return s, nil }
}

// The one stream key the test servers take; a publish with another is
// refused as unauthorized.
const (
	goodKey = "sk_good_SECRET_0123456789"
	badKey  = "sk_wrong_SECRET_9876543210"
)

// keys is an ingest.Authenticator that knows goodKey.
type keys struct{ calls atomic.Int64 }

func (k *keys) Authenticate(_ context.Context, key string) (registry.Channel, error) {
	k.calls.Add(1)
	if key != goodKey {
		return registry.Channel{}, registry.ErrUnknownKey
	}
	return registry.Channel{ID: "ch_test", PlaybackID: "pbtest0123456789abcdefgh"}, nil
}

// rtmpServer is a real ingest server, as a transcoding server runs it,
// that either takes publishes (counting their packets) or refuses every
// one as over capacity.
type rtmpServer struct {
	addr     string
	auth     keys
	refuse   bool
	publish  atomic.Int64 // Handler.Publish calls
	packets  atomic.Int64
	started  chan string // the publisher's address, per publish started
	endedMu  sync.Mutex
	endedErr []error
}

func startServer(t *testing.T, refuse, proxyProtocol bool) *rtmpServer {
	t.Helper()
	s := &rtmpServer{refuse: refuse, started: make(chan string, 16)}
	srv, err := ingest.NewServer(ingest.Config{
		App: nginxrtmp.Application, Auth: &s.auth, Handler: s, Logger: testenv.Logger(t),
		ProxyProtocol: proxyProtocol,
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return s
}

func (s *rtmpServer) Publish(_ context.Context, _ registry.Channel, info ingest.PublishInfo) (ingest.Sink, error) {
	s.publish.Add(1)
	if s.refuse {
		return nil, errors.New("server is at capacity")
	}
	return &countingSink{s: s, remote: info.RemoteAddr, done: make(chan struct{})}, nil
}

type countingSink struct {
	s      *rtmpServer
	remote string
	done   chan struct{}
}

func (k *countingSink) Start(*media.VideoParams, *media.AudioParams) error {
	k.s.started <- k.remote
	return nil
}
func (k *countingSink) WritePacket(*media.Packet) error { k.s.packets.Add(1); return nil }
func (k *countingSink) Done() <-chan struct{}           { return k.done }
func (k *countingSink) End(err error) {
	k.s.endedMu.Lock()
	k.s.endedErr = append(k.s.endedErr, err)
	k.s.endedMu.Unlock()
}

func (s *rtmpServer) info(id string) registry.ServerInfo {
	return registry.ServerInfo{ID: id, RTMPAddr: s.addr}
}

// silentServer does the RTMP handshake, then reads and never answers: a
// server that accepts connections and is stuck.
func silentServer(t *testing.T) string {
	return fakeServer(t, func(c net.Conn) {
		if handshake.HandshakeWithClient(c, c, &handshake.Config{SkipHandshakeVerification: true}) == nil {
			io.Copy(io.Discard, c)
		}
	})
}

// hangUpServer does the RTMP handshake, reads the first message and hangs
// up: a server that drops connections it cannot take.
func hangUpServer(t *testing.T) string {
	return fakeServer(t, func(c net.Conn) {
		if handshake.HandshakeWithClient(c, c, &handshake.Config{SkipHandshakeVerification: true}) == nil {
			c.Read(make([]byte, 64))
		}
	})
}

func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); serve(c) })
		}
	})
	return l.Addr().String()
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fullBacklog returns the address of a listener that never accepts and
// whose accept queue is full, so that a dial to it hangs.
func fullBacklog(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for {
		c, err := net.DialTimeout("tcp", l.Addr().String(), 100*time.Millisecond)
		if err != nil {
			return l.Addr().String()
		}
		conns = append(conns, c)
		if len(conns) > 10000 {
			t.Skip("the accept queue of a listener does not fill on this host")
		}
	}
}

// TestFallback publishes with the ffmpeg CLI through a proxy whose first
// server fails in each way a server can, and a good one second: each
// publish must land whole on the good server, counted as a fallback, and
// the publisher never notice.
func TestFallback(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	const seconds = 2
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: seconds, Audio: true})
	full := startServer(t, true, false)
	cases := []struct {
		name  string
		first string
	}{
		{"refuses the publish: at capacity", full.addr},
		{"answers nothing after the handshake", silentServer(t)},
		{"hangs up after the handshake", hangUpServer(t)},
		{"refuses the connection", closedAddr(t)},
		{"does not accept the connection", fullBacklog(t)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good := startServer(t, false, false)
			var logs testenv.LogBuffer
			p, addr := startProxy(t, Config{
				Servers:     fixedServers(registry.ServerInfo{ID: "bad", RTMPAddr: c.first}, good.info("good")),
				DialTimeout: 500 * time.Millisecond, ResponseTimeout: 500 * time.Millisecond, Logger: logs.Logger(),
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if out, err := publish(ctx, t, src, addr, goodKey); err != nil {
				t.Fatalf("publish: %v\n%s", err, out)
			}
			testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
			if n := good.packets.Load(); n < seconds*30 {
				t.Errorf("the good server got %d packets, want the whole %d s publish", n, seconds)
			}
			if s := p.Stats(); s.Fallbacks != 1 || s.Refused != 0 || s.Conns != 1 {
				t.Errorf("Stats = %+v, want 1 connection, 1 fallback, none refused", s)
			}
			if strings.Contains(logs.String(), "SECRET") {
				t.Errorf("the proxy logged a stream key:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "server=good") {
				t.Errorf("the log does not name the server the publisher went to:\n%s", logs.String())
			}
		})
	}
	if n := full.publish.Load(); n != 1 {
		t.Errorf("the full server was asked %d times, want once", n)
	}
}

// TestWrongKeyIsNotRetried: a key the first server refuses is wrong on
// every server; the publisher hears so from the first, and the second is
// never bothered.
func TestWrongKeyIsNotRetried(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	a, b := startServer(t, false, false), startServer(t, false, false)
	var logs testenv.LogBuffer
	p, addr := startProxy(t, Config{Servers: fixedServers(a.info("a"), b.info("b")), Logger: logs.Logger()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := publish(ctx, t, src, addr, badKey)
	if err == nil {
		t.Fatalf("a publish with a wrong key went through:\n%s", out)
	}
	if a.auth.calls.Load() != 1 || b.auth.calls.Load() != 0 {
		t.Errorf("key lookups: first server %d, second %d; want 1 and 0", a.auth.calls.Load(), b.auth.calls.Load())
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
	if s := p.Stats(); s.Fallbacks != 0 || s.Refused != 1 {
		t.Errorf("Stats = %+v, want 1 refused, no fallback", s)
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the proxy logged a stream key:\n%s", logs.String())
	}
}

// TestEveryServerFull: when every server refuses for want of capacity,
// the publisher gets the last refusal, with its reason, promptly.
func TestEveryServerFull(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	a, b := startServer(t, true, false), startServer(t, true, false)
	p, addr := startProxy(t, Config{Servers: fixedServers(a.info("a"), b.info("b"))})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	out, err := publish(ctx, t, src, addr, goodKey)
	if err == nil {
		t.Fatalf("a publish went through two full servers:\n%s", out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the publisher heard after %v, want promptly", d)
	}
	if a.publish.Load() != 1 || b.publish.Load() != 1 {
		t.Errorf("publish attempts: %d and %d, want one on each server", a.publish.Load(), b.publish.Load())
	}
	if !strings.Contains(string(out), "capacity") {
		t.Errorf("ffmpeg did not show the server's reason:\n%s", out)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
	if s := p.Stats(); s.Refused != 1 {
		t.Errorf("Stats = %+v, want 1 refused", s)
	}
}

// TestProxyProtocolToIngest: with the PROXY protocol on both sides, the
// server sees the publisher's own address, not the proxy's.
func TestProxyProtocolToIngest(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	s := startServer(t, false, true)
	var logs testenv.LogBuffer
	_, addr := startProxy(t, Config{Servers: fixedServers(s.info("a")), ProxyProtocol: true, Logger: logs.Logger()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := publish(ctx, t, src, addr, goodKey); err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	remote := <-s.started
	if !strings.Contains(logs.String(), "remote="+remote) {
		t.Errorf("the server saw the publisher at %s; the proxy's log names another:\n%s", remote, logs.String())
	}
}

// TestNotRTMPIsRefused: an HTTP request (or any first byte but RTMP's) is
// closed at once, and no server is dialled for it.
func TestNotRTMPIsRefused(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	var dialled atomic.Int64
	srv := fakeServer(t, func(net.Conn) { dialled.Add(1) })
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: srv})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadAll(c); len(n) != 0 || err != nil {
		t.Errorf("read %q, %v; want the connection closed without an answer", n, err)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Refused == 1 }, "the connection to be counted refused")
	if dialled.Load() != 0 {
		t.Error("a server was dialled for a connection that is not RTMP")
	}
}

// TestRankSpreadsABurst: heartbeats are seconds old, so publishes this
// proxy placed since count; full servers go last.
func TestRankSpreadsABurst(t *testing.T) {
	p := New(Config{Servers: fixedServers()})
	beat := time.Now().Add(-time.Second)
	a := registry.ServerInfo{ID: "a", Streams: 1, At: beat, CPU: 0.2}
	b := registry.ServerInfo{ID: "b", Streams: 2, At: beat, CPU: 0.1}
	full := registry.ServerInfo{ID: "full", Streams: 0, MaxStreams: 4, CPU: 0.99, MaxCPU: 0.9, At: beat}
	ids := func(s []registry.ServerInfo) string {
		var out []string
		for _, i := range s {
			out = append(out, i.ID)
		}
		return strings.Join(out, ",")
	}
	// Each publish ranked is placed on the first: a has one stream and b
	// two, so the burst goes to a, then alternates (ties go to the lower
	// CPU, b).
	want := []string{"a,b,full", "b,a,full", "a,b,full", "b,a,full"}
	for i, w := range want {
		c := &conn{}
		p.conns[c] = struct{}{}
		if got := ids(p.rank(c, []registry.ServerInfo{full, b, a})); got != w {
			t.Errorf("publish %d: rank = %s, want %s", i, got, w)
		}
	}
	// Placements older than the heartbeat are in its counts already.
	a.At, b.At = time.Now().Add(time.Second), time.Now().Add(time.Second)
	if got := ids(p.rank(&conn{}, []registry.ServerInfo{full, b, a})); got != "a,b,full" {
		t.Errorf("rank with newer heartbeats = %s, want a,b,full", got)
	}
	// A server without a CPU limit is never full for its CPU: a machine
	// busy at 100 % still takes publishes, fewest streams first.
	busy := registry.ServerInfo{ID: "busy", Streams: 0, CPU: 1, At: time.Now().Add(time.Second)}
	if got := ids(p.rank(&conn{}, []registry.ServerInfo{a, busy})); got != "busy,a" {
		t.Errorf("rank with a busy server without max_cpu = %s, want busy,a", got)
	}
}

func TestMaxConns(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: silentServer(t)}), MaxConns: 1})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 1 }, "the first connection to be tracked")
	if err := refusedAt(addr, "127.0.0.1"); err != nil {
		t.Errorf("second connection: %v", err)
	}
	if s := p.Stats(); s.Refused != 1 {
		t.Errorf("Stats = %+v, want 1 refused", s)
	}
}

// TestShutdownClosesConnections: Shutdown with a publish going on waits
// until its deadline, then ends the publish on both sides.
func TestShutdownClosesConnections(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 30})
	s := startServer(t, false, false)
	p := New(Config{Servers: fixedServers(s.info("a")), Logger: testenv.Logger(t)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(l) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	published := make(chan error, 1)
	go func() { _, err := publish(ctx, t, src, l.Addr().String(), goodKey); published <- err }()
	select {
	case <-s.started:
	case err := <-published:
		t.Fatalf("publish ended before it started: %v", err)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	if err := p.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the deadline: a publisher was still connected", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if err := <-published; err == nil {
		t.Error("ffmpeg's publish of 30 s ended cleanly; want it cut by the shutdown")
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		s.endedMu.Lock()
		defer s.endedMu.Unlock()
		return len(s.endedErr) == 1
	}, "the server's publish to end")
	if p.Stats().Active != 0 {
		t.Errorf("%d connections still open after Shutdown", p.Stats().Active)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
	if err := p.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

func TestShutdownWaitsForIdle(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	p := New(Config{Servers: fixedServers(), Logger: testenv.Logger(t)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(l) }()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of an idle proxy = %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{{}, {Servers: fixedServers(), ResponseTimeout: -1}} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := New(c).Serve(l); err == nil || !bytes.Contains([]byte(err.Error()), []byte("proxy config")) {
			t.Errorf("Serve with %+v = %v, want a config error", c, err)
		}
	}
}

// TestHalfCloseTimeout: after the publisher has finished, a server that
// never closes its side is given Config.HalfCloseTimeout, then both
// connections are closed.
func TestHalfCloseTimeout(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	release := make(chan struct{})
	srv := fakeServer(t, func(c net.Conn) {
		if br, err := serveFakeRTMP(c); err == nil {
			io.Copy(io.Discard, br) // reads to EOF, never closes its side
			<-release
		}
	})
	t.Cleanup(func() { close(release) }) // before fakeServer's own cleanup
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: srv}), HalfCloseTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := publishFake(c, goodKey); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("media"))
	start := time.Now()
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("publisher's read after its half-close: %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("half-open connection closed after %v, want about 200 ms", d)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
}
