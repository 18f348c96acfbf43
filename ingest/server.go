package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/livestream/livestream/door"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	rtmp "github.com/yutopp/go-rtmp"
)

// Accept retries, as net/http's: a full file table (EMFILE) passes.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// Server accepts RTMP publishers. Use NewServer; Serve (RTMP) or ServeTLS
// (RTMPS) one or more listeners; Shutdown once. Every listener shares the
// stream keys, limits and counters.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limiter *failureLimiter

	mu        sync.Mutex
	closing   bool
	listeners map[*listener]struct{}
	conns     map[*conn]struct{}
	open      int         // connections admitted and not yet released
	perAddr   *door.Conns // open connections per address
	addr      net.Addr
	untrusted untrustedLog
	refusals  door.RefusalLog[refusal]
	counters  counters
}

// NewServer returns a server for cfg, with defaults for its zero fields.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		limiter:   newFailureLimiter(cfg.AuthFailures),
		listeners: map[*listener]struct{}{},
		conns:     map[*conn]struct{}{},
		perAddr:   door.NewConns(cfg.MaxConnsPerAddr),
	}, nil
}

// Serve accepts connections on l until Shutdown, and then returns
// ErrServerClosed; it returns another error if l fails for good. It closes
// l.
func (s *Server) Serve(l net.Listener) error {
	return s.serve(l, nil)
}

// ServeTLS is Serve for RTMPS: each connection opens with a TLS handshake
// with cfg (after its PROXY header, with Config.ProxyProtocol), which
// must finish within Config.HandshakeTimeout of the accept, as the RTMP
// handshake and the publish must. l is a plain TCP listener: the server
// wraps each connection it admits, so that a refused one costs no TLS
// state and a slow handshake holds no other.
func (s *Server) ServeTLS(l net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		l.Close()
		return errors.New("serve RTMPS: no TLS config")
	}
	return s.serve(l, cfg)
}

func (s *Server) serve(l net.Listener, tlsCfg *tls.Config) error {
	ln := &listener{Listener: l, srv: s, stop: make(chan struct{})}
	ln.rtmp = rtmp.NewServer(&rtmp.ServerConfig{OnConnect: func(nc net.Conn) (io.ReadWriteCloser, *rtmp.ConnConfig) {
		return s.onConnect(nc, tlsCfg)
	}})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	if s.addr == nil {
		s.addr = l.Addr()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	proto := "RTMP"
	if tlsCfg != nil {
		proto = "RTMPS"
	}
	s.log.Info(proto+" ingest listening", "addr", l.Addr().String(), "app", s.cfg.App)
	err := ln.rtmp.Serve(ln)
	switch {
	case s.isClosing():
		return ErrServerClosed
	case ln.err != nil:
		return ln.err
	}
	return fmt.Errorf("serve %s: %w", proto, err)
}

// Addr is the address of the first listener served, nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops accepting, closes every connection (their Sinks get End
// with ErrServerClosed) and waits until go-rtmp is done with each, or until
// ctx is done (then it returns ctx.Err()).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	lns := make([]*listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, ln := range lns {
		ln.rtmp.Close() // go-rtmp's Serve returns once its Accept fails
		ln.Close()      // in case go-rtmp had not registered it yet
	}
	for _, c := range conns {
		c.stop(ErrServerClosed)
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// onConnect is go-rtmp's hook for a new connection, admitted by the
// listener, on the goroutine it serves the connection from: we wrap the
// net.Conn, track it, read its PROXY header and do its TLS handshake
// (tlsCfg, on an RTMPS listener). A connection refused here is closed, and
// go-rtmp's own handshake then fails at once.
func (s *Server) onConnect(nc net.Conn, tlsCfg *tls.Config) (io.ReadWriteCloser, *rtmp.ConnConfig) {
	c := newConn(s, nc, time.Now())
	if !s.cfg.ProxyProtocol {
		c.slot = door.SocketPrefix(nc.RemoteAddr()) // counted by admit
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.stop(ErrServerClosed)
		return c.rw, c.rtmpConfig()
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.cfg.ProxyProtocol {
		c.readProxyHeader()
	}
	if tlsCfg != nil && c.ctx.Err() == nil {
		c.handshakeTLS(tlsCfg)
	}
	return c.rw, c.rtmpConfig()
}

// refuseUntrusted closes a connection from a peer outside
// Config.TrustedProxies, before reading anything: its PROXY header could
// claim any address.
func (s *Server) refuseUntrusted(nc net.Conn) {
	nc.Close()
	s.counters.untrusted.Add(1)
	if ok, suppressed := s.untrusted.refused(time.Now()); ok {
		s.log.Warn("refused connection: peer not in trusted_proxies", "remote", nc.RemoteAddr().String(),
			"refused_unlogged", suppressed)
	}
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.release(c)
}

// listener is the net.Listener go-rtmp's Serve accepts from. go-rtmp
// retries a failed Accept at once, forever: we back off on errors that
// pass, and close go-rtmp's server on those that do not, so that its Serve
// returns.
type listener struct {
	net.Listener
	srv  *Server
	rtmp *rtmp.Server
	stop chan struct{}
	once sync.Once
	err  error // why Accept failed for good; read after Serve returns
}

func (l *listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err == nil {
			l.srv.counters.conns.Add(1)
		}
		if err == nil && !l.srv.cfg.trusts(nc.RemoteAddr()) {
			l.srv.refuseUntrusted(nc)
			continue
		}
		if err == nil {
			if !l.srv.admit(nc) {
				continue
			}
			return nc, nil
		}
		if errors.Is(err, net.ErrClosed) || l.srv.isClosing() {
			if !l.srv.isClosing() {
				l.err = fmt.Errorf("accept RTMP connection: %w", err)
			}
			l.rtmp.Close()
			return nil, err
		}
		delay = min(max(2*delay, minAcceptBackoff), maxAcceptBackoff)
		l.srv.log.Warn("accept RTMP connection", "err", err, "retry_in", delay)
		select {
		case <-time.After(delay):
		case <-l.stop:
			return nil, net.ErrClosed
		}
	}
}

func (l *listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.stop)
		err = l.Listener.Close()
	})
	return err
}
