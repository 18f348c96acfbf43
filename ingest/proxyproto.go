package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pires/go-proxyproto"
)

// PROXY protocol (HAProxy's, v1 text and v2 binary): behind a proxy, every
// connection comes from the proxy, so the publisher's address (for the
// auth-failure limit and the logs) arrives in a header that opens the
// connection. With Config.ProxyProtocol the header is required, as HAProxy's
// accept-proxy and nginx's proxy_protocol require it: a server that would
// also take connections without one would let anyone reaching it directly
// pass for any address by sending one, or a proxy without the option set
// pass for every publisher at once.

// proxyHeaderBuffer is the buffer the header is read through: it holds a
// v1 line (at most 107 bytes) in one read, which go-proxyproto needs, and
// the common v2 headers. Once it is drained, go-rtmp's larger reads
// bypass it.
const proxyHeaderBuffer = 256

// untrustedLogInterval spaces the log lines of connections refused from
// untrusted peers: anyone who reaches the port can open those.
const untrustedLogInterval = time.Second

// proxyConn is a connection whose PROXY header has been read: reads go on
// through r, which may hold what the peer sent after the header, and
// RemoteAddr is the publisher's.
type proxyConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
	local  bool // a LOCAL header: the proxy's own connection
}

func (p *proxyConn) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *proxyConn) RemoteAddr() net.Addr       { return p.remote }

// readProxyHeader reads the PROXY protocol header that must open nc,
// giving up at deadline, and returns nc reading on after it. Its
// RemoteAddr is the header's source; nc's own for a LOCAL header (a load
// balancer's health check) or one naming no TCP address (v1's UNKNOWN).
// Errors wrap ErrProxyHeader and quote nothing the peer sent.
func readProxyHeader(nc net.Conn, deadline time.Time) (*proxyConn, error) {
	if err := nc.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("set read deadline: %w", err)
	}
	br := bufio.NewReaderSize(nc, proxyHeaderBuffer)
	h, err := proxyproto.Read(br)
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ne) && ne.Timeout():
		return nil, fmt.Errorf("no complete PROXY protocol header in time: %w", ErrProxyHeader)
	case errors.Is(err, proxyproto.ErrNoProxyProtocol) && br.Buffered() == 0:
		return nil, errNoProxyHeader
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return nil, fmt.Errorf("does not start with a PROXY protocol header: %w", ErrProxyHeader)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil, fmt.Errorf("closed within its PROXY protocol header: %w", ErrProxyHeader)
	default:
		// go-proxyproto's errors name what was wrong, never the bytes.
		return nil, fmt.Errorf("malformed PROXY protocol header: %w: %w", ErrProxyHeader, err)
	}
	remote := nc.RemoteAddr()
	if src, ok := h.SourceAddr.(*net.TCPAddr); ok && h.Command.IsProxy() {
		remote = src
	}
	return &proxyConn{Conn: nc, r: br, remote: remote, local: h.Command.IsLocal()}, nil
}

// errNoProxyHeader is a peer that connected and closed without a byte: a
// TCP health check, not worth a warning.
var errNoProxyHeader = fmt.Errorf("closed before sending a PROXY protocol header: %w", ErrProxyHeader)

// readProxyHeader reads the header the connection must open with (with
// Config.ProxyProtocol), on go-rtmp's goroutine before the RTMP handshake,
// within HandshakeTimeout of the accept: from then on the connection reads
// after it and is known by the header's address. A missing or malformed
// header closes the connection.
func (c *conn) readProxyHeader() {
	pc, err := readProxyHeader(c.nc, c.rw.publishBy)
	if err != nil {
		if c.ctx.Err() != nil { // Shutdown closed it
			return
		}
		level := slog.LevelWarn
		if errors.Is(err, errNoProxyHeader) {
			level = slog.LevelDebug
		} else {
			c.srv.counters.proxyHeader.Add(1)
		}
		c.log.Log(c.ctx, level, "refused connection without a valid PROXY protocol header", "err", err)
		c.stop(err)
		return
	}
	c.rw.Conn = pc
	c.rw.healthCheck = pc.local
	c.setRemote(pc.RemoteAddr())
	if !pc.local && !c.srv.claim(c, c.addr) {
		c.stop(fmt.Errorf("%d open from the publisher's address: %w", c.srv.cfg.MaxConnsPerAddr, ErrTooManyConnections))
	}
}

// errHealthCheck ends a connection that closed after a LOCAL header
// without a byte of RTMP: a load balancer's health check, which is not
// worth a line.
var errHealthCheck = errors.New("health check: closed after a LOCAL PROXY protocol header")

// trusts reports whether peer may connect: with ProxyProtocol and
// TrustedProxies, only a peer in one of TrustedProxies.
func (c Config) trusts(peer net.Addr) bool {
	if !c.ProxyProtocol || len(c.TrustedProxies) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(peer.String())
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range c.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// untrustedLog reports connections refused from untrusted peers, at most
// one line per untrustedLogInterval, with the count of those not reported.
type untrustedLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// refused returns whether to log a refusal now, and how many went
// unlogged since the last line.
func (u *untrustedLog) refused(now time.Time) (log bool, suppressed int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Sub(u.last) < untrustedLogInterval {
		u.suppressed++
		return false, 0
	}
	suppressed, u.suppressed, u.last = u.suppressed, 0, now
	return true, suppressed
}
