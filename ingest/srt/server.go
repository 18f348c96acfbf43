package srt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	gosrt "github.com/datarhei/gosrt"
)

// Server accepts SRT publishers. Use Listen, then Serve once; Shutdown
// once.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  gosrt.Listener

	counters counters

	mu      sync.Mutex
	closing bool
	conns   map[*conn]struct{}
	wg      sync.WaitGroup // the connections' goroutines
}

// Listen binds the UDP address addr ("host:port") for SRT.
func Listen(addr string, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("SRT config: %w", err)
	}
	sc := gosrt.DefaultConfig()
	sc.ReceiverLatency, sc.PeerLatency = cfg.Latency, cfg.Latency
	// Our idle timer (media, not keepalives) ends a silent publish first,
	// as ErrIdleTimeout; gosrt's own, on any packet, is the backstop. An
	// EOF from gosrt then means the publisher closed (an SRT shutdown).
	sc.PeerIdleTimeout = 3 * cfg.IdleTimeout
	if cfg.Passphrase != "" {
		sc.EnforcedEncryption = true
	}
	ln, err := gosrt.Listen("srt", addr, sc)
	if err != nil {
		return nil, fmt.Errorf("SRT listener on %s: %w", addr, err)
	}
	return &Server{cfg: cfg, log: cfg.Logger, ln: ln, conns: map[*conn]struct{}{}}, nil
}

// Addr is the UDP address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts publishers until Shutdown, then returns ErrServerClosed.
// Each connection request is handled on its own goroutine: its key lookup
// must not hold up the others'.
func (s *Server) Serve() error {
	s.log.Info("SRT ingest listening", "addr", s.ln.Addr().String(), "latency", s.cfg.Latency,
		"passphrase", s.cfg.Passphrase != "")
	for {
		req, err := s.ln.Accept2()
		if err != nil {
			if s.isClosing() || errors.Is(err, gosrt.ErrListenerClosed) {
				return ErrServerClosed
			}
			return fmt.Errorf("accept SRT connection: %w", err)
		}
		s.counters.requests.Add(1)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			req.Reject(gosrt.REJ_CLOSE)
			continue
		}
		c := newConn(s, req)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.run(req)
		}()
	}
}

// Shutdown stops accepting, ends every publish (its Sink gets
// ingest.ErrServerClosed) and waits for their goroutines, or until ctx is
// done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// The reasons first: closing the listener closes the connections,
	// which would otherwise read as the publishers' own close.
	for _, c := range conns {
		c.stop(errShutdown)
	}
	s.ln.Close()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}
