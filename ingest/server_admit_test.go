package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/door"

	"github.com/livestream/livestream/internal/testenv"
	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// dialFrom dials addr from the loopback address src (127.0.0.2, …: every
// 127/8 address is the loopback on Linux), so that a test has publishers
// at addresses of their own.
func dialFrom(src string) *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
}

// publishFrom publishes key with go-rtmp's client from src and returns
// the client, or the error of the first step that failed.
func publishFrom(src, addr, key string) (*rtmp.ClientConn, error) {
	cc, err := rtmp.DialWithDialer(dialFrom(src), "rtmp", addr, &rtmp.ConnConfig{Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{App: "stream", Type: "nonprivate"}}); err != nil {
		cc.Close()
		return nil, err
	}
	stream, err := cc.CreateStream(nil, 0)
	if err != nil {
		cc.Close()
		return nil, err
	}
	if err := stream.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		cc.Close()
		return nil, err
	}
	return cc, nil
}

// TestConnsPerAddrCap: the ninth connection from one address is closed at
// once, before a byte is read, while another address still connects and
// publishes; when one of the eight closes, the address may connect again.
func TestConnsPerAddrCap(t *testing.T) {
	h := newHarness(t, slowTimeouts)
	var held []net.Conn
	for range 8 {
		c, err := dialFrom("127.0.0.1").Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.openConns() == 8 }, "8 connections admitted")
	// Refused with a reset, which may reach the dial itself.
	ninth, err := dialFrom("127.0.0.1").Dial("tcp", h.addr)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatal(err)
	default:
		defer ninth.Close()
		closedWithin(t, ninth, 2*time.Second)
	}

	cc, err := publishFrom("127.0.0.2", h.addr, keyAlpha)
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	defer cc.Close()
	h.sink()

	held[0].Close()
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.openConns() == 8 }, "the closed connection released") // 7 + the publish
	again, err := publishFrom("127.0.0.1", h.addr, keyBravo)
	if err != nil {
		t.Fatalf("after one of its connections closed: %v", err)
	}
	defer again.Close()
	h.sink()

	if st := h.srv.Stats(); st.Refused.MaxConnsPerAddr != 1 {
		t.Errorf("Refused.MaxConnsPerAddr = %d, want 1", st.Refused.MaxConnsPerAddr)
	}
	if n := countLines(h.logs.String(), "max_conns_per_addr open from this address", "remote=127.0.0.1 "); n != 1 {
		t.Errorf("%d lines for the refusal, want 1:\n%s", n, h.logs.String())
	}
}

// openConns is the number of connections the server holds a slot for.
func (h *harness) openConns() int {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	return h.srv.open
}

// floodEnv makes the test binary run flood instead of the tests: the
// flood of TestConnFlood comes from another process, on one core, as an
// attacker's would from another machine, so that this process's RSS and
// goroutines are the server's, and its CPU share is not the flood's.
const floodEnv = "LIVESTREAM_INGEST_FLOOD_ADDR"

func TestMain(m *testing.M) {
	if addr := os.Getenv(floodEnv); addr != "" {
		fmt.Println(flood(addr, os.Stdin))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// flood opens connections to addr from 127.0.0.1 with 1,100 workers until
// stop can be read no more, each reopened as soon as it is closed: one
// worker in ten closes its connection at once, the others hold theirs,
// sending nothing, until the server closes it. It returns how many it
// opened.
func flood(addr string, stop io.Reader) int64 {
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, stop); close(done) }()
	var (
		wg     sync.WaitGroup
		opened atomic.Int64
	)
	for i := range 1100 {
		wg.Go(func() {
			d := dialFrom("127.0.0.1")
			for {
				select {
				case <-done:
					return
				default:
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					continue // the port's backlog is full: try again
				}
				opened.Add(1)
				if i%10 == 0 {
					c.Close()
					continue
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c)
				c.Close()
			}
		})
	}
	wg.Wait()
	return opened.Load()
}

// TestConnFlood reproduces issue 14's flood: one address keeps opening
// connections, each reopened as soon as it is closed, from another
// process (flood). Meanwhile twelve publishes with a good key, from other
// addresses, must all be accepted; the server holds at most
// MaxConnsPerAddr of the flood's connections; its log stays a few lines
// (one per reason and address a minute at info level, no line per
// connection); its goroutines and RSS stay flat.
//
// Without the cap (MaxConnsPerAddr < 0) the flood holds every slot of
// MaxConns and the publishes are refused, as in the issue; with it, a
// refused connection is reopened at once, so the flood's workers, on one
// core, open thousands a second.
func TestConnFlood(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		if os.Getenv("FLOOD_NO_CAP") != "" { // to see the issue again
			c.MaxConnsPerAddr = -1
		}
	})
	const publishes = 12
	// The first publish warms up go-rtmp and the handler before the
	// baseline.
	if cc := publishWithin(t, "127.0.0.2", h.addr, keyAlpha, 10*time.Second); cc != nil {
		cc.Close()
	}
	h.sink()
	runtime.GC()
	rssBefore, goroutinesBefore := testenv.RSS(), runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), floodEnv+"="+h.addr, "GOMAXPROCS=1")
	stop, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var stopOnce sync.Once
	var stopErr error
	stopFlood := func() error {
		stopOnce.Do(func() {
			stop.Close()
			select {
			case stopErr = <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				stopErr = fmt.Errorf("did not stop within 20 s: %v", <-exited)
			}
		})
		return stopErr
	}
	defer stopFlood()
	start := time.Now()
	doorRefusals := func() int64 { r := h.srv.Stats().Refused; return r.MaxConnsPerAddr + r.MaxConns }
	testenv.WaitFor(t, 10*time.Second, func() bool { return doorRefusals() > 100 }, "the flood to begin")

	var maxOpen, maxGoroutines int
	var maxRSS int64
	sample := func() {
		maxOpen = max(maxOpen, h.openConns())
		maxGoroutines = max(maxGoroutines, runtime.NumGoroutine())
		maxRSS = max(maxRSS, testenv.RSS())
	}
	for i := range publishes {
		// Each publish while the flood is in full swing.
		refused, since := doorRefusals(), time.Now()
		testenv.WaitFor(t, 10*time.Second, func() bool {
			return doorRefusals() > refused+500 || time.Since(since) > 2*time.Second
		}, "500 more refusals at the door")
		sample()
		src := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}[i%3]
		cc := publishWithin(t, src, h.addr, keyAlpha, 15*time.Second)
		if cc == nil {
			continue
		}
		select {
		case <-h.handler.sinks:
		case <-time.After(15 * time.Second):
			t.Errorf("publish %d from %s during the flood: not accepted within 15 s", i+1, src)
		}
		cc.Close()
	}
	sample()
	if err := stopFlood(); err != nil {
		t.Errorf("flood process: %v: %s", err, out.String())
	}
	elapsed := time.Since(start)

	st := h.srv.Stats()
	t.Logf("flood: %s connections opened in %v, %d refused at the door; at most %d open at once; goroutines %d → %d; RSS %d → %d MB",
		strings.TrimSpace(out.String()), elapsed.Round(time.Millisecond), st.Refused.MaxConnsPerAddr, maxOpen,
		goroutinesBefore, maxGoroutines, rssBefore>>20, maxRSS>>20)
	// The flood's 8, a publish and one more that was closing.
	if maxOpen > 8+2 {
		t.Errorf("the server held %d connections open at once, want at most %d", maxOpen, 8+2)
	}
	// The server's few per connection it holds.
	if limit := goroutinesBefore + 50; maxGoroutines > limit {
		t.Errorf("%d goroutines during the flood, want at most %d", maxGoroutines, limit)
	}
	// Issue 14 saw the RSS grow by 250 MB.
	if grew := maxRSS - rssBefore; grew > 32<<20 {
		t.Errorf("RSS grew by %d MB during the flood", grew>>20)
	}
	logs := h.logs.String()
	info := 0
	for _, line := range strings.Split(logs, "\n") {
		if line != "" && !strings.Contains(line, "level=DEBUG") {
			info++
		}
	}
	// Listening, the publishes' accepted/ended lines (2 each), and one
	// line per reason of refusal from 127.0.0.1 a minute.
	minutes := 1 + int(elapsed/time.Minute)
	if limit := 1 + 2*(publishes+1) + 2*minutes; info > limit {
		t.Errorf("%d log lines at info level or above, want at most %d:\n%s", info, limit, lastLines(logs, 40))
	}
	if n := countLines(logs, "max_conns_per_addr open from this address"); n < 1 || n > minutes {
		t.Errorf("the refusals are logged in %d lines, want 1 a minute (%v)", n, elapsed)
	}
}

// publishWithin is publishFrom, failing the test (and returning nil) if
// it fails or takes longer than timeout: go-rtmp's client sets no
// deadlines.
func publishWithin(t *testing.T, src, addr, key string, timeout time.Duration) *rtmp.ClientConn {
	t.Helper()
	type result struct {
		cc  *rtmp.ClientConn
		err error
	}
	done := make(chan result, 1)
	go func() {
		cc, err := publishFrom(src, addr, key)
		done <- result{cc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("publish from %s: %v", src, r.err)
		}
		return r.cc
	case <-time.After(timeout):
		t.Errorf("publish from %s: no answer within %v", src, timeout)
		return nil
	}
}

// lastLines is the end of logs, n lines at most.
func lastLines(logs string, n int) string {
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestAuthFailuresSlowedNotLocked: wrong keys from one address are
// refused at once Free times, then after a delay that grows with each
// failure; the right key from the same address is accepted at once,
// without waiting, after any number of wrong ones (publishers behind one
// NAT must not lock each other out).
func TestAuthFailuresSlowedNotLocked(t *testing.T) {
	cfg := AuthFailures{Free: 2, Delay: 300 * time.Millisecond, MaxDelay: 1200 * time.Millisecond, Window: time.Minute}
	h := newHarness(t, func(c *Config) { c.AuthFailures = cfg })
	var took []time.Duration
	for range 5 {
		took = append(took, refusalTime(t, h.addr, wrongKey))
	}
	t.Logf("refusals of 5 wrong keys took %v", took)
	for i, d := range took {
		if want := cfg.delay(i + 1); d < want {
			t.Errorf("failure %d refused after %v, want at least %v", i+1, d, want)
		}
	}
	if took[4] <= took[2] {
		t.Errorf("the delay did not grow: failure 3 took %v, failure 5 %v", took[2], took[4])
	}

	start := time.Now()
	cc, err := publishFrom("127.0.0.1", h.addr, keyAlpha)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	h.sink()
	t.Logf("the right key, after 5 wrong ones, accepted in %v", time.Since(start))
	if n := h.auth.lookups(); n != 6 {
		t.Errorf("%d lookups, want 6: every key is looked up", n)
	}
	logs := h.logs.String()
	if n := countLines(logs, "refused publish: unknown or revoked stream key", "delayed="); n != 3 {
		t.Errorf("%d refusals logged as delayed, want 3:\n%s", n, logs)
	}
	if st := h.srv.Stats(); st.AuthFailures.Delayed != 3 || st.AuthFailures.UnknownKey != 5 {
		t.Errorf("Stats().AuthFailures = %+v, want 5 unknown keys, 3 delayed", st.AuthFailures)
	}
}

// refusalTime publishes key with go-rtmp's client, through a relay that
// sees the server close the connection, and returns the time from the
// publish command to that close: the refusal's time.
func refusalTime(t *testing.T, addr, key string) time.Duration {
	t.Helper()
	relay, closed := closeWatcher(t, addr)
	cc, err := rtmp.Dial("rtmp", relay, &rtmp.ConnConfig{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{App: "stream", Type: "nonprivate"}}); err != nil {
		t.Fatal(err)
	}
	stream, err := cc.CreateStream(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := stream.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-closed:
		return at.Sub(start)
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not close the refused publish within 20 s")
		return 0
	}
}

// closeWatcher relays one connection to addr and sends on closed when
// the server's side ends.
func closeWatcher(t *testing.T, addr string) (string, <-chan time.Time) {
	t.Helper()
	l := mustListen(t)
	closed := make(chan time.Time, 1)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		down, err := l.Accept()
		l.Close()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", addr)
		if err != nil {
			down.Close()
			return
		}
		wg.Go(func() { io.Copy(up, down); up.Close() })
		io.Copy(down, up)
		closed <- time.Now()
		down.Close()
		up.Close()
	})
	return l.Addr().String(), closed
}

// TestProxyProtocolAddrCap: behind a proxy the proxy's own connections
// are not capped, the publishers' addresses in the headers are.
func TestProxyProtocolAddrCap(t *testing.T) {
	h := newHarness(t, func(c *Config) { slowTimeouts(c); proxied(c); c.MaxConnsPerAddr = 2 })
	a := startForwarder(t, h.addr, proxyHeader(t, 2, publisherA, h.addr))
	b := startForwarder(t, h.addr, proxyHeader(t, 2, publisherB, h.addr))
	var conns []net.Conn
	for _, f := range []*forwarder{a, a, b, b} {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Four connections from the proxy host, two per publisher: all held.
	testenv.WaitFor(t, 5*time.Second, func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return h.srv.perAddr.Open(door.Prefix(publisherA.AddrPort().Addr())) == 2 && h.srv.perAddr.Open(door.Prefix(publisherB.AddrPort().Addr())) == 2
	}, "two connections counted for each publisher")
	third, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	closedWithin(t, third, 3*time.Second)
	if st := h.srv.Stats(); st.Refused.MaxConnsPerAddr != 1 {
		t.Errorf("Refused.MaxConnsPerAddr = %d, want 1", st.Refused.MaxConnsPerAddr)
	}
	if n := countLines(h.logs.String(), "max_conns_per_addr open from this address", "remote="+publisherA.IP.String()); n != 1 {
		t.Errorf("the refusal is not logged against %s:\n%s", publisherA.IP, h.logs.String())
	}
	for _, c := range conns {
		c.Close()
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return h.srv.perAddr.Addrs() == 0 && h.srv.open == 0
	}, "every slot released")
}
