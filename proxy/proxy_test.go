package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// startProxy serves a proxy for cfg on 127.0.0.1 and returns it with its
// address; the test's cleanup shuts it down and checks Serve's result.
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
	served := make(chan error, 1)
	go func() { served <- p.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return p, l.Addr().String()
}

// fixedServers lists servers as given, as the registry would.
func fixedServers(s ...registry.ServerInfo) func(context.Context) ([]registry.ServerInfo, error) {
	return func(context.Context) ([]registry.ServerInfo, error) { return s, nil }
}

// backend is a TCP server that reads each connection to EOF, then writes
// reply and closes: it sees a half-close through the proxy or hangs.
type backend struct {
	addr  string
	reply []byte
	got   chan []byte // what each connection sent
}

func startBackend(t *testing.T, reply []byte) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: l.Addr().String(), reply: reply, got: make(chan []byte, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				data, _ := io.ReadAll(c)
				b.got <- data
				c.Write(b.reply)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return b
}

// closedAddr is an address where nothing listens: dials are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	return testenv.FreeAddr(t)
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// exchange sends data through addr, half-closes, and returns the reply.
func exchange(t *testing.T, addr string, data []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("send: %v", err)
	}
	return reply
}

// expectRefused connects to addr and expects the connection closed
// (EOF or reset) within 5 s without a byte.
func expectRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("hello"))
	got, err := io.ReadAll(c)
	if len(got) != 0 {
		t.Errorf("got %q from a refused connection", got)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("connection not closed within 5 s")
	}
}

func TestSpliceBothWaysWithHalfClose(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	reply := randomBytes(t, 100_000)
	b := startBackend(t, reply)
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: b.addr})})

	sent := randomBytes(t, 3<<20) // several splice chunks
	got := exchange(t, addr, sent)
	if !bytes.Equal(got, reply) {
		t.Errorf("publisher got %d bytes, want the server's %d", len(got), len(reply))
	}
	if recv := <-b.got; !bytes.Equal(recv, sent) {
		t.Errorf("server got %d bytes, want the publisher's %d", len(recv), len(sent))
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
	want := Stats{Conns: 1, BytesIn: int64(len(sent)), BytesOut: int64(len(reply))}
	if s := p.Stats(); s != want {
		t.Errorf("Stats = %+v, want %+v", s, want)
	}
}

func TestLeastLoadedFirstAndFallback(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	a, b := startBackend(t, []byte("a")), startBackend(t, []byte("b"))
	down := closedAddr(t)
	tests := []struct {
		name                    string
		servers                 []registry.ServerInfo
		want                    string
		dialFailures, fallbacks int64
	}{
		{"first listed", []registry.ServerInfo{{ID: "a", RTMPAddr: a.addr}, {ID: "b", RTMPAddr: b.addr}}, "a", 0, 0},
		{"swapped", []registry.ServerInfo{{ID: "b", RTMPAddr: b.addr}, {ID: "a", RTMPAddr: a.addr}}, "b", 0, 0},
		{"first down", []registry.ServerInfo{{ID: "down", RTMPAddr: down}, {ID: "b", RTMPAddr: b.addr}}, "b", 1, 1},
		{"full one last", []registry.ServerInfo{{ID: "a", RTMPAddr: a.addr, Streams: 2, MaxStreams: 2}, {ID: "b", RTMPAddr: b.addr}}, "b", 0, 0},
		{"all full: still tried", []registry.ServerInfo{{ID: "a", RTMPAddr: a.addr, Streams: 2, MaxStreams: 2}}, "a", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := startProxy(t, Config{Servers: fixedServers(tt.servers...)})
			if got := exchange(t, addr, []byte("hello")); string(got) != tt.want {
				t.Errorf("spliced to %q, want %q", got, tt.want)
			}
			if got := <-map[string]*backend{"a": a, "b": b}[tt.want].got; string(got) != "hello" {
				t.Errorf("server got %q", got)
			}
			s := p.Stats()
			if s.DialFailures != tt.dialFailures || s.Fallbacks != tt.fallbacks || s.Refused != 0 {
				t.Errorf("Stats = %+v, want %d dial failures, %d fallbacks", s, tt.dialFailures, tt.fallbacks)
			}
		})
	}
}

func TestRefusedWithoutServer(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	tests := []struct {
		name    string
		servers func(context.Context) ([]registry.ServerInfo, error)
	}{
		{"none listed", fixedServers()},
		{"registry fails", func(context.Context) ([]registry.ServerInfo, error) { return nil, errors.New("redis down") }},
		{"all down", fixedServers(registry.ServerInfo{ID: "x", RTMPAddr: closedAddr(t)}, registry.ServerInfo{ID: "y", RTMPAddr: closedAddr(t)})},
		{"hanging registry", func(ctx context.Context) ([]registry.ServerInfo, error) { <-ctx.Done(); return nil, ctx.Err() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := startProxy(t, Config{Servers: tt.servers, ConnectTimeout: 300 * time.Millisecond})
			start := time.Now()
			expectRefused(t, addr)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v, want promptly", d)
			}
			testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Refused == 1 }, "Stats.Refused = 1")
		})
	}
}

func TestDialTimeoutThenFallback(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	b := startBackend(t, []byte("b"))
	// A non-routable address (TEST-NET-1 would be refused by some hosts;
	// a listener with a full backlog hangs a dial on every host).
	hang := fullBacklog(t)
	p, addr := startProxy(t, Config{
		Servers:     fixedServers(registry.ServerInfo{ID: "hang", RTMPAddr: hang}, registry.ServerInfo{ID: "b", RTMPAddr: b.addr}),
		DialTimeout: 200 * time.Millisecond,
	})
	if got := exchange(t, addr, []byte("x")); string(got) != "b" {
		t.Errorf("spliced to %q, want b", got)
	}
	<-b.got
	if s := p.Stats(); s.DialFailures != 1 || s.Fallbacks != 1 {
		t.Errorf("Stats = %+v, want 1 dial failure and 1 fallback", s)
	}
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

func TestProxyProtocolHeader(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	b := startBackend(t, nil)
	_, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: b.addr}), ProxyProtocol: true})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("rtmp"))
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	want := append(AppendHeader(nil, c.LocalAddr(), c.RemoteAddr()), "rtmp"...)
	if got := <-b.got; !bytes.Equal(got, want) {
		t.Errorf("server got\n% x\nwant\n% x", got, want)
	}
}

func TestMaxConns(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	b := startBackend(t, []byte("ok"))
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: b.addr}), MaxConns: 1})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 1 }, "the first connection to be tracked")
	expectRefused(t, addr)
	if s := p.Stats(); s.Refused != 1 {
		t.Errorf("Stats = %+v, want 1 refused", s)
	}
}

func TestShutdownClosesConnections(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	// The server signals the first bytes it reads, then reads to EOF.
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	first, serverDone := make(chan string, 1), make(chan error, 1)
	go func() {
		c, err := bl.Accept()
		if err != nil {
			serverDone <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		first <- string(buf[:n])
		_, err = io.ReadAll(c)
		serverDone <- err
	}()
	p := New(Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: bl.Addr().String()}), Logger: testenv.Logger(t)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("publishing"))
	if got := <-first; got != "publishing" {
		t.Fatalf("server got %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the deadline: a publisher was still connected", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("publisher read %v after Shutdown, want its connection closed", err)
	}
	if err := <-serverDone; err != nil {
		t.Errorf("server's side ended with %v, want EOF", err)
	}
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := New(Config{}).Serve(l); err == nil || !bytes.Contains([]byte(err.Error()), []byte("servers")) {
		t.Errorf("Serve without Servers = %v, want an error naming the field", err)
	}
}

func TestHalfCloseTimeout(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	// A server that never closes its side: SilentListener.
	p, addr := startProxy(t, Config{
		Servers:          fixedServers(registry.ServerInfo{ID: "silent", RTMPAddr: testenv.SilentListener(t)}),
		HalfCloseTimeout: 200 * time.Millisecond,
	})
	start := time.Now()
	if got := exchange(t, addr, []byte("bye")); len(got) != 0 {
		t.Errorf("got %q from a silent server", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("half-open connection closed after %v, want about 200 ms", d)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connection to end")
}
