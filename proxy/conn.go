package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/registry"
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
	client net.Conn
	log    *slog.Logger

	mu     sync.Mutex
	server net.Conn
	closed bool
}

func newConn(p *Proxy, nc net.Conn) *conn {
	return &conn{p: p, client: nc, log: p.log.With("remote", nc.RemoteAddr().String())}
}

// close ends both sides at once (Shutdown).
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.client.Close()
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

// serve dials a server and splices until both sides are done. It closes
// both connections.
func (c *conn) serve() {
	defer c.client.Close()
	server, info, err := c.dial()
	if err != nil {
		c.p.stats.refused.Add(1)
		c.log.Warn("refuse publisher", "err", err)
		return
	}
	defer server.Close()
	if !c.setServer(server) {
		return
	}
	log := c.log.With("server", info.ID)
	log.Info("publisher spliced", "server_addr", info.RTMPAddr)
	start := time.Now()
	in, out, err := c.splice(server)
	if err != nil {
		log.Info("publisher connection ended", "err", err, "bytes_in", in, "bytes_out", out, "duration", time.Since(start).Round(time.Millisecond))
		return
	}
	log.Info("publisher connection ended", "bytes_in", in, "bytes_out", out, "duration", time.Since(start).Round(time.Millisecond))
}

// dial lists the servers and connects to the first that answers, in
// order, within Config.ConnectTimeout. With Config.ProxyProtocol it writes
// the PROXY header before returning.
func (c *conn) dial() (net.Conn, registry.ServerInfo, error) {
	cfg := &c.p.cfg
	ctx, cancel := context.WithTimeout(c.p.ctx, cfg.ConnectTimeout)
	defer cancel()
	servers, err := cfg.Servers(ctx)
	if err != nil {
		return nil, registry.ServerInfo{}, fmt.Errorf("%w: list servers: %v", ErrNoServer, err)
	}
	servers = fullLast(servers)
	if len(servers) == 0 {
		return nil, registry.ServerInfo{}, fmt.Errorf("%w: the registry lists no healthy server", ErrNoServer)
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	var errs []error
	for i, s := range servers {
		if ctx.Err() != nil {
			break
		}
		nc, err := d.DialContext(ctx, "tcp", s.RTMPAddr)
		if err != nil {
			c.p.stats.dialFailures.Add(1)
			c.log.Warn("dial server", "server", s.ID, "server_addr", s.RTMPAddr, "err", err)
			errs = append(errs, fmt.Errorf("server %s: %w", s.ID, err))
			continue
		}
		if cfg.ProxyProtocol {
			if err := writeHeader(nc, c.client.RemoteAddr(), c.client.LocalAddr()); err != nil {
				nc.Close()
				c.p.stats.dialFailures.Add(1)
				errs = append(errs, fmt.Errorf("server %s: %w", s.ID, err))
				continue
			}
		}
		if i > 0 {
			c.p.stats.fallbacks.Add(1)
		}
		return nc, s, nil
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("connect within %v: %w", cfg.ConnectTimeout, ctx.Err()))
	}
	return nil, registry.ServerInfo{}, fmt.Errorf("%w: %w", ErrNoServer, errors.Join(errs...))
}

// writeHeader sends the PROXY protocol v2 header of a publisher at src
// that connected to dst.
func writeHeader(nc net.Conn, src, dst net.Addr) error {
	if err := nc.SetWriteDeadline(time.Now().Add(headerWriteTimeout)); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	if _, err := nc.Write(AppendHeader(nil, src, dst)); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("write PROXY header: %w", err)
	}
	return nil
}

// fullLast moves the servers whose heartbeat says they are at MaxStreams
// after the others, keeping the order: they would refuse the publish, but
// a heartbeat is a few seconds old, so they stay a last resort.
func fullLast(servers []registry.ServerInfo) []registry.ServerInfo {
	out := make([]registry.ServerInfo, 0, len(servers))
	var full []registry.ServerInfo
	for _, s := range servers {
		if s.MaxStreams > 0 && s.Streams >= s.MaxStreams {
			full = append(full, s)
			continue
		}
		out = append(out, s)
	}
	return append(out, full...)
}

// splice copies bytes both ways until both directions are done. When one
// side finishes sending (EOF), the other is told so by a half-close
// (CloseWrite) and gets Config.HalfCloseTimeout to finish too; when a copy
// fails, both connections are closed. It returns the bytes copied from
// the publisher (in) and to it (out), and the first error other than a
// clean end.
func (c *conn) splice(server net.Conn) (in, out int64, err error) {
	errc := make(chan error, 1)
	go func() {
		var err error
		in, err = c.copy(server, c.client, &c.p.stats.bytesIn)
		errc <- err
	}()
	out, err = c.copy(c.client, server, &c.p.stats.bytesOut)
	if err2 := <-errc; err == nil {
		err = err2
	}
	return in, out, err
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
