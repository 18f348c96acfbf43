package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/pires/go-proxyproto"
)

// Publisher addresses the tests' proxies claim (documentation ranges).
var (
	publisherA = &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 5555}
	publisherB = &net.TCPAddr{IP: net.ParseIP("198.51.100.9"), Port: 6666}
	publisher6 = &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 7777}
)

// forwarder is a TCP proxy on 127.0.0.1 that opens each connection to the
// server with header's bytes and then copies both ways, as a cluster's
// proxy does with --proxy-protocol.
type forwarder struct {
	addr string
	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

func startForwarder(t *testing.T, target string, header []byte) *forwarder {
	t.Helper()
	f := &forwarder{l: mustListen(t), open: map[net.Conn]struct{}{}}
	f.addr = f.l.Addr().String()
	f.wg.Go(func() {
		for {
			down, err := f.l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			f.track(down, up)
			f.wg.Go(func() {
				if _, err := up.Write(header); err == nil {
					io.Copy(up, down)
				}
				up.Close()
				down.Close()
			})
			f.wg.Go(func() {
				io.Copy(down, up)
				down.Close()
				up.Close()
			})
		}
	})
	t.Cleanup(func() {
		f.l.Close()
		f.mu.Lock()
		for c := range f.open {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *forwarder) track(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		f.open[c] = struct{}{}
	}
}

// proxyHeader is the PROXY header of version v from src to the server at
// dst, as go-proxyproto writes it.
func proxyHeader(t testing.TB, v byte, src net.Addr, dst string) []byte {
	t.Helper()
	to, err := net.ResolveTCPAddr("tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	if src.(*net.TCPAddr).IP.To4() == nil {
		to.IP = net.IPv6loopback
	}
	b, err := proxyproto.HeaderProxyFromAddrs(v, src, to).Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localHeader is a v2 LOCAL header, what a load balancer's health check
// sends.
func localHeader(t testing.TB) []byte {
	t.Helper()
	b, err := (&proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}).Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func proxied(c *Config) { c.ProxyProtocol = true }

// publishVia publishes a 1 s test source with the ffmpeg CLI to addr and
// returns its output and error.
func publishVia(t *testing.T, h *harness, addr, key string) (string, error) {
	t.Helper()
	out, err := ffmpeg(t, 20*time.Second, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "flv",
		fmt.Sprintf("rtmp://%s/stream/%s?twitch=%s", addr, key, relaySecret))
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Server error") {
			h.checkNoSecrets(line, "the status message")
		}
	}
	return out, err
}

// TestProxyProtocolAddress: a publish through a proxy that sends a v1 or
// v2 header is known by the header's address: in PublishInfo and the logs.
func TestProxyProtocolAddress(t *testing.T) {
	for _, tc := range []struct {
		version byte
		src     *net.TCPAddr
	}{{2, publisherA}, {1, publisherB}, {2, publisher6}} {
		t.Run(fmt.Sprintf("v%d_%s", tc.version, tc.src), func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.ProxyProtocol = true
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			})
			f := startForwarder(t, h.addr, proxyHeader(t, tc.version, tc.src, h.addr))
			if out, err := publishVia(t, h, f.addr, keyAlpha); err != nil {
				t.Fatalf("ffmpeg through the proxy: %v\n%s", err, out)
			}
			s := h.sink()
			if err := s.wait(t); err != nil {
				t.Errorf("End(%v), want a clean end", err)
			}
			if want := tc.src.String(); s.info.RemoteAddr != want {
				t.Errorf("PublishInfo.RemoteAddr = %q, want the header's %q", s.info.RemoteAddr, want)
			}
			if logs := h.logs.String(); !strings.Contains(logs, "remote="+tc.src.String()) || strings.Contains(logs, "remote=127.0.0.1") {
				t.Errorf("the logs do not name the publisher by the header's address:\n%s", logs)
			}
		})
	}
}

// TestProxyProtocolAuthFailures: failed authentications count against the
// address in the header, not the proxy's: past Free failures through a
// proxy claiming publisher A, A's wrong keys are refused after a delay,
// its right key is accepted at once, and publisher B, through the same
// proxy host, is not delayed.
func TestProxyProtocolAuthFailures(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ProxyProtocol = true
		c.AuthFailures = AuthFailures{Free: 2, Delay: 50 * time.Millisecond, Window: time.Minute}
	})
	a := startForwarder(t, h.addr, proxyHeader(t, 2, publisherA, h.addr))
	b := startForwarder(t, h.addr, proxyHeader(t, 2, publisherB, h.addr))
	for range 3 {
		if out, err := publishVia(t, h, a.addr, wrongKey); err == nil || !strings.Contains(out, "unauthorized") {
			t.Fatalf("a wrong key through the proxy: %v\n%s", err, out)
		}
	}
	if out, err := publishVia(t, h, b.addr, wrongKey); err == nil || !strings.Contains(out, "unauthorized") {
		t.Errorf("a wrong key from %s, who never failed: %v\n%s", publisherB, err, out)
	}
	if out, err := publishVia(t, h, a.addr, keyAlpha); err != nil {
		t.Errorf("the right key from %s after its failures: %v\n%s", publisherA, err, out)
	}
	if n := h.auth.lookups(); n != 5 {
		t.Errorf("%d key lookups, want 5: every key is looked up", n)
	}
	logs := h.logs.String()
	delayed := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "delayed=") {
			delayed++
			if !strings.Contains(line, "remote="+publisherA.String()) {
				t.Errorf("a delay not against %s: %s", publisherA, line)
			}
		}
	}
	if delayed != 1 {
		t.Errorf("%d refusals delayed, want 1 (%s's third):\n%s", delayed, publisherA, logs)
	}
	if strings.Contains(logs, "remote=127.0.0.1") {
		t.Errorf("a publisher is logged by the proxy's address:\n%s", logs)
	}
}

// TestProxyProtocolRequired: with ProxyProtocol, a publisher connecting
// directly and one sending a garbage header are refused with a log line
// each, and the server goes on serving publishes through the proxy.
func TestProxyProtocolRequired(t *testing.T) {
	h := newHarness(t, proxied)
	if out, err := publishVia(t, h, h.addr, keyAlpha); err == nil {
		t.Fatalf("ffmpeg published without a PROXY header:\n%s", out)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return strings.Contains(h.logs.String(), "does not start with a PROXY protocol header")
	}, "the refusal of a connection without a header in the logs")

	for _, garbage := range [][]byte{
		[]byte("PROXY TCP4 203.0.113.999 10.0.0.1 5555 1935\r\n"),
		append(append([]byte{}, proxyproto.SIGV2...), 0x21, 0x77, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12),
	} {
		f := startForwarder(t, h.addr, garbage)
		if out, err := publishVia(t, h, f.addr, keyAlpha); err == nil {
			t.Fatalf("ffmpeg published behind the header %q:\n%s", garbage, out)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return strings.Count(h.logs.String(), "malformed PROXY protocol header") == 2
	}, "both malformed headers in the logs")
	if n, m := h.auth.lookups(), h.handler.publishes(); n != 0 || m != 0 {
		t.Errorf("refused connections reached the key lookup (%d) or the Handler (%d)", n, m)
	}

	f := startForwarder(t, h.addr, proxyHeader(t, 2, publisherA, h.addr))
	if out, err := publishVia(t, h, f.addr, keyAlpha); err != nil {
		t.Fatalf("ffmpeg through the proxy after the refusals: %v\n%s", err, out)
	}
	if s := h.sink(); s.wait(t) != nil || s.info.RemoteAddr != publisherA.String() {
		t.Errorf("publish after the refusals: from %q", s.info.RemoteAddr)
	}
}

// TestProxyProtocolSilentPeer: a peer that connects and sends nothing
// holds no one else up (the header is read on the connection's goroutine)
// and is closed within HandshakeTimeout.
func TestProxyProtocolSilentPeer(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ProxyProtocol = true
		c.HandshakeTimeout = 2 * time.Second
	})
	silent, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	partial, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	partial.Write(proxyproto.SIGV2[:6]) // half a signature, then nothing
	start := time.Now()

	f := startForwarder(t, h.addr, proxyHeader(t, 2, publisherA, h.addr))
	c := dialPublish(t, f.addr, keyAlpha)
	s := h.sink()
	if d := time.Since(start); d >= 2*time.Second {
		t.Errorf("a publish alongside a silent peer took %v", d)
	}
	for _, p := range []net.Conn{silent, partial} {
		closedWithin(t, p, 5*time.Second)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("a peer without a header was closed after %v", d)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return strings.Contains(h.logs.String(), "no complete PROXY protocol header in time")
	}, "the timeout in the logs")
	c.cc.Close()
	s.wait(t)
}

// TestProxyProtocolLocal: a LOCAL header (a load balancer's health check)
// is taken, with the connection's own address; a check that connects and
// closes is not worth a warning.
func TestProxyProtocolLocal(t *testing.T) {
	h := newHarness(t, proxied)
	f := startForwarder(t, h.addr, localHeader(t))
	c := dialPublish(t, f.addr, keyAlpha)
	s := h.sink()
	if !strings.HasPrefix(s.info.RemoteAddr, "127.0.0.1:") {
		t.Errorf("PublishInfo.RemoteAddr = %q after a LOCAL header, want the connection's", s.info.RemoteAddr)
	}
	c.cc.Close()
	s.wait(t)
	// The publish's own end may be logged as a reset; only the health
	// checks' lines below are judged.
	before := len(h.logs.String())

	check, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	check.Write(localHeader(t))
	check.(*net.TCPConn).CloseWrite()
	probe, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probe.(*net.TCPConn).CloseWrite()
	closedWithin(t, check, 5*time.Second) // the server is done with them
	closedWithin(t, probe, 5*time.Second)
	if err := h.srv.Shutdown(t.Context()); err != nil { // waits for both connections' ends
		t.Fatal(err)
	}
	if logs := h.logs.String()[before:]; strings.Contains(logs, "level=WARN") {
		t.Errorf("health checks logged warnings:\n%s", logs)
	}
}

// TestProxyProtocolUntrusted: with TrustedProxies, a connection from
// elsewhere is closed at once, before the server reads anything, and said
// so in the logs.
func TestProxyProtocolUntrusted(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ProxyProtocol = true
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	})
	f := startForwarder(t, h.addr, proxyHeader(t, 2, publisherA, h.addr))
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := closedWithin(t, c, 2*time.Second); d > time.Second {
		t.Errorf("an untrusted peer was closed after %v", d)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return strings.Contains(h.logs.String(), "refused connection: peer not in trusted_proxies")
	}, "the refusal in the logs")
	if n := h.handler.publishes(); n != 0 {
		t.Errorf("%d publishes from an untrusted peer", n)
	}
}

func TestProxyProtocolConfig(t *testing.T) {
	base := Config{Auth: &testAuth{}, Handler: &testHandler{}}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }, "trusted_proxies: only apply with proxy_protocol"},
		{func(c *Config) { c.ProxyProtocol, c.TrustedProxies = true, []netip.Prefix{{}} }, "trusted_proxies[0]: not a network"},
	} {
		c := base
		tc.change(&c)
		if err := c.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
	}
	c := base
	c.ProxyProtocol, c.TrustedProxies = true, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}
	for addr, want := range map[string]bool{
		"10.1.2.3:1": true, "[::ffff:10.1.2.3]:1": true, "10.2.0.1:1": false, "[2001:db8::1]:1": true, "[2001:db9::1]:1": false,
	} {
		if got := c.trusts(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))); got != want {
			t.Errorf("trusts(%s) = %v, want %v", addr, got, want)
		}
	}
}

// bytesConn is a net.Conn that reads b and then io.EOF, for the fuzz
// target: the header parser without a socket.
type bytesConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *bytesConn) Read(p []byte) (int, error)      { return c.r.Read(p) }
func (c *bytesConn) SetReadDeadline(time.Time) error { return nil }
func (c *bytesConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *bytesConn) Close() error                     { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzProxyHeader feeds bytes to the header reader as a connection's
// first bytes. Whatever they are it does not panic; an error wraps
// ErrProxyHeader and never quotes the input; a header read leaves the
// rest of the bytes to read, unchanged, with a valid remote address.
func FuzzProxyHeader(f *testing.F) {
	const rest = "\x03rtmp handshake"
	dst := "127.0.0.1:1935"
	for _, seed := range [][]byte{
		proxyHeader(f, 1, publisherA, dst),
		proxyHeader(f, 2, publisherA, dst),
		proxyHeader(f, 1, publisher6, dst),
		proxyHeader(f, 2, publisher6, dst),
		localHeader(f),
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 203.0.113.999 10.0.0.1 5555 1935\r\n"),
		[]byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 1935\n"),
		append(append([]byte{}, proxyproto.SIGV2...), 0x21, 0x11, 0xff, 0xff),
		[]byte("\x03"),
		{},
	} {
		f.Add(append(seed, rest...))
	}
	// The bytes after a well-formed header reach the reader unchanged.
	for _, seed := range [][]byte{proxyHeader(f, 1, publisherA, dst), proxyHeader(f, 2, publisher6, dst), localHeader(f)} {
		pc, err := readProxyHeader(&bytesConn{r: bytes.NewReader(append(seed, rest...))}, time.Time{})
		if err != nil {
			f.Fatal(err)
		}
		if after, _ := io.ReadAll(pc); string(after) != rest {
			f.Fatalf("read %q after the header, want %q", after, rest)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nc := &bytesConn{r: bytes.NewReader(data)}
		pc, err := readProxyHeader(nc, time.Time{})
		if err != nil {
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v does not wrap ErrProxyHeader", err)
			}
			if len(data) >= 8 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		if _, perr := netip.ParseAddrPort(pc.RemoteAddr().String()); perr != nil {
			t.Fatalf("remote address %q: %v", pc.RemoteAddr(), perr)
		}
		after, _ := io.ReadAll(pc)
		if !bytes.HasSuffix(data, after) || len(after) == len(data) {
			t.Fatalf("read %q after the header of %q: not what follows a header", after, data)
		}
	})
}
