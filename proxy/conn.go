package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// spliceChunk is how many bytes one io.CopyN moves before the counters are
// updated: large enough that the kernel's splice(2) path does the work,
// small enough that Stats follow a live publish within a fraction of a
// second at 10 Mbit/s.
const spliceChunk = 256 << 10

// headerWriteTimeout bounds writing the PROXY header to a server that
// accepted the connection: a few bytes into an empty socket buffer.
const headerWriteTimeout = 2 * time.Second

// conn is one publisher connection and, once dialled, its server's.
type conn struct {
	p      *Proxy
	raw    net.Conn // the publisher's socket, which close closes
	client net.Conn // what the publisher's bytes are read from: raw, or TLS over it
	peer   netip.Prefix
	tls    *tls.Config // an RTMPS publisher's, whose handshake serve does
	log    *slog.Logger

	mu     sync.Mutex
	server net.Conn
	closed bool

	// serverID is where the publish was placed, acceptedAt when that
	// server accepted it (zero: not yet); guarded by the proxy's mu.
	serverID   string
	acceptedAt time.Time
}

func newConn(p *Proxy, nc net.Conn, peer netip.Prefix, tlsCfg *tls.Config) *conn {
	return &conn{p: p, raw: nc, client: nc, peer: peer, tls: tlsCfg, log: p.log.With("remote", nc.RemoteAddr().String())}
}

// close ends both sides at once (Shutdown).
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.raw.Close()
	if c.server != nil {
		c.server.Close()
	}
}

// setServer records the dialled server, or closes it and reports false if
// the connection was closed meanwhile.
func (c *conn) setServer(s net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		s.Close()
		return false
	}
	c.server = s
	return true
}

// serve does the publisher's handshake, negotiates its publish with the
// servers (falling back from one that refuses or fails), then splices
// until both sides are done. It closes both connections.
func (c *conn) serve() {
	defer c.raw.Close()
	if c.tls != nil {
		tc, err := handshakeTLS(c.raw, c.tls)
		if err != nil {
			if !errors.Is(err, io.EOF) { // not a TCP health check
				c.p.stats.refused.Add(1)
				c.p.stats.tlsHandshakes.Add(1)
				c.p.refused(refusedHandshake, c.peer, err)
			}
			return
		}
		c.client = tc
		c.log = c.log.With("tls", tls.VersionName(tc.(*tls.Conn).ConnectionState().Version))
	}
	br := bufio.NewReaderSize(c.client, clientBuffer)
	if err := c.handshakeClient(br); err != nil {
		// Anyone can open connections that end here: one line per
		// address a minute, each at debug level.
		c.p.stats.refused.Add(1)
		c.log.Debug("refuse connection", "err", err)
		c.p.refused(refusedHandshake, c.peer, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.ConnectTimeout)
	servers, stale, err := c.p.servers.get(ctx)
	cancel()
	if err != nil {
		c.p.stats.refused.Add(1)
		c.log.Warn("refuse publisher", "err", fmt.Errorf("%w: list servers: %v", ErrNoServer, err))
		return
	}
	if stale {
		c.p.stats.staleLists.Add(1)
	}
	n := &negotiation{
		c: c, client: br, servers: c.p.rank(c, servers),
		out:      &clientWriter{nc: c.client, cw: newChunkWriter(c.client)},
		answered: map[float64]bool{},
		msgs:     make(chan clientMsg), readDone: make(chan struct{}), stop: make(chan struct{}),
	}
	a, err := n.run(c.p.ctx)
	if err != nil {
		if !errors.Is(err, errNoPublish) {
			c.p.stats.refused.Add(1)
		}
		c.log.Warn("refuse publisher", "err", err)
		return
	}
	defer a.nc.Close()
	if a.info.ID != n.servers[0].ID {
		c.p.stats.fallbacks.Add(1)
	}
	c.p.stats.bytesIn.Add(n.sent)
	log := c.log.With("server", a.info.ID)
	log.Info("publisher spliced", "server_addr", a.info.RTMPAddr)
	start := time.Now()
	in, out, err := c.splice(a, br)
	in += n.sent
	if err != nil {
		log.Info("publisher connection ended", "err", err, "bytes_in", in, "bytes_out", out, "duration", time.Since(start).Round(time.Millisecond))
		return
	}
	log.Info("publisher connection ended", "bytes_in", in, "bytes_out", out, "duration", time.Since(start).Round(time.Millisecond))
}

// splice passes the publisher's bytes to the accepted server as they
// come (first those it sent after its publish, still buffered in br)
// while a's pump goes on passing the server's messages back. When one side
// finishes sending (EOF), the other is told so by a half-close (CloseWrite)
// and gets Config.HalfCloseTimeout to finish too; when a copy fails, both
// connections are closed. It returns the bytes from the publisher since
// its publish (in) and to it since the handshake (out), and the first
// error other than a clean end.
func (c *conn) splice(a *attempt, br *bufio.Reader) (in, out int64, err error) {
	if k := br.Buffered(); k > 0 {
		b, _ := br.Peek(k)
		n, werr := a.nc.Write(b)
		in += int64(n)
		c.p.stats.bytesIn.Add(int64(n))
		br.Discard(k)
		if werr != nil {
			c.client.Close()
			a.nc.Close()
			<-a.done
			return in, a.out, werr
		}
	}
	n, err := c.copy(a.nc, c.client, &c.p.stats.bytesIn)
	in += n
	<-a.done
	if err == nil {
		err = a.err
	}
	return in, a.out, err
}

// copy moves src's bytes to dst until src's EOF, then half-closes dst and
// bounds how long src's peer may still take; on an error it closes both.
func (c *conn) copy(dst, src net.Conn, counter *atomic.Int64) (int64, error) {
	var total int64
	for {
		// io.CopyN reaches (*net.TCPConn).ReadFrom with an
		// *io.LimitedReader of a TCP connection: splice(2), no copy
		// through user space.
		n, err := io.CopyN(dst, src, spliceChunk)
		total += n
		counter.Add(n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			halfClose(dst)
			// The other direction may still be running: bound it.
			deadline := time.Now().Add(c.p.cfg.HalfCloseTimeout)
			_ = dst.SetReadDeadline(deadline)
			return total, nil
		}
		dst.Close()
		src.Close()
		return total, err
	}
}

// halfClose tells nc's peer we send no more, or closes nc when it cannot
// be half closed.
func halfClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	nc.Close()
}

// writeHeader sends the PROXY protocol v2 header of a publisher at src
// that connected to dst.
func writeHeader(nc net.Conn, src, dst net.Addr) error {
	if err := nc.SetWriteDeadline(time.Now().Add(headerWriteTimeout)); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	if _, err := proxyproto.HeaderProxyFromAddrs(2, src, dst).WriteTo(nc); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	return nil
}
