package proxy

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/livestream/livestream/door"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/livestream/livestream/registry"
)

// Accept retries, as net/http's: a full file table (EMFILE) passes.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// Proxy accepts RTMP publishers and splices each to a server. Use New;
// Serve (RTMP) or ServeTLS (RTMPS) one or more listeners; Shutdown once.
// Its methods may be called from any goroutine.
type Proxy struct {
	cfg     Config
	err     error // cfg.Validate(), returned by Serve
	log     *slog.Logger
	stats   counters
	servers *serverList

	// ctx is cancelled when Shutdown gives up waiting: dials in progress
	// stop.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perAddr   *door.Conns    // open connections per address
	wg        sync.WaitGroup // one per connection being served
	refusals  door.RefusalLog[refusal]
}

// New returns a proxy for cfg, with defaults for its zero fields. A cfg
// that does not validate makes Serve return the error.
func New(cfg Config) *Proxy {
	ctx, cancel := context.WithCancel(context.Background())
	err := cfg.Validate()
	cfg = cfg.withDefaults()
	return &Proxy{
		cfg:       cfg,
		err:       err,
		log:       cfg.Logger,
		servers:   &serverList{list: cfg.Servers, keep: cfg.LastKnownServers, log: cfg.Logger},
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		perAddr:   door.NewConns(cfg.MaxConnsPerAddr),
	}
}

// Serve accepts publishers on l until Shutdown, and then returns
// ErrServerClosed; it returns another error if l fails for good. It closes
// l.
func (p *Proxy) Serve(l net.Listener) error {
	return p.serve(l, nil)
}

// ServeTLS is Serve for RTMPS publishers: l is a plain TCP listener, and
// each connection admitted does a TLS handshake with cfg (within 10 s)
// before its RTMP handshake. The proxy terminates TLS and passes plain
// RTMP to the servers, as for RTMP publishers.
func (p *Proxy) ServeTLS(l net.Listener, cfg *tls.Config) error {
	if cfg == nil {
		l.Close()
		return errors.New("serve RTMPS: no TLS config")
	}
	return p.serve(l, cfg)
}

func (p *Proxy) serve(l net.Listener, tlsCfg *tls.Config) error {
	if p.err != nil {
		l.Close()
		return fmt.Errorf("proxy config: %w", p.err)
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	p.listeners[l] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.listeners, l)
		p.mu.Unlock()
		l.Close()
	}()

	proto := "RTMP"
	if tlsCfg != nil {
		proto = "RTMPS"
	}
	p.log.Info(proto+" proxy listening", "addr", l.Addr().String())
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if p.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept RTMP connection: %w", err)
			}
			delay = min(max(2*delay, minAcceptBackoff), maxAcceptBackoff)
			p.log.Warn("accept RTMP connection", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-p.ctx.Done():
			}
			continue
		}
		delay = 0
		p.stats.conns.Add(1)
		c := p.track(nc, tlsCfg)
		if c == nil {
			continue
		}
		go func() {
			defer p.untrack(c)
			c.serve()
		}()
	}
}

// track registers a new connection, or closes it and returns nil when the
// proxy is closing or at Config.MaxConns, or its address at
// Config.MaxConnsPerAddr: before anything is allocated for it.
func (p *Proxy) track(nc net.Conn, tlsCfg *tls.Config) *conn {
	peer := door.SocketPrefix(nc.RemoteAddr())
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		nc.Close()
		return nil
	}
	if why, ok := p.admitLocked(peer); !ok {
		p.mu.Unlock()
		// Counted before the peer can see the refusal.
		p.stats.refused.Add(1)
		if why == refusedAddrConns {
			p.stats.refusedPerAddr.Add(1)
		}
		door.Reset(nc)
		p.refused(why, peer, nil)
		return nil
	}
	c := newConn(p, nc, peer, tlsCfg)
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	return c
}

func (p *Proxy) untrack(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.perAddr.Release(c.peer)
	p.mu.Unlock()
	p.wg.Done()
}

// placed notes that c's publish goes to server id, for rank.
func (p *Proxy) placed(c *conn, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.serverID, c.acceptedAt = id, time.Time{}
}

// accepted notes that c's server accepted its publish: the server counts
// the stream from then on, in every heartbeat it sends after.
func (p *Proxy) accepted(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.acceptedAt = time.Now()
}

// rank orders servers for c's publish, and notes it placed on the first:
// those with room first, fewest streams first, then least loaded. A
// heartbeat is a few seconds old, so a server's streams count the
// publishes this proxy placed there that the heartbeat cannot count: not
// yet accepted, or accepted after it was sent. A burst of publishers is
// spread rather than all sent to the server that was idlest at its last
// heartbeat. (Counting those placed after the heartbeat missed the ones
// placed just before it and accepted just after, which a loaded machine
// makes common.) Servers that look full stay, last: they would refuse,
// but the heartbeat may be stale.
func (p *Proxy) rank(c *conn, servers []registry.ServerInfo) []registry.ServerInfo {
	type ranked struct {
		info    registry.ServerInfo
		streams int
		full    bool
	}
	rs := make([]ranked, len(servers))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range servers {
		n := s.Streams
		for other := range p.conns {
			if other.serverID == s.ID && (other.acceptedAt.IsZero() || other.acceptedAt.After(s.At)) {
				n++
			}
		}
		// Full only by a limit the server has: without max_cpu its CPU
		// share orders it among the others but never makes it full (a
		// busy machine at 100 % was avoided as if it refused).
		full := (s.MaxCPU > 0 && s.CPU >= s.MaxCPU) || (s.MaxStreams > 0 && n >= s.MaxStreams)
		rs[i] = ranked{info: s, streams: n, full: full}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if a.full != b.full {
			if a.full {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.streams, b.streams); c != 0 {
			return c
		}
		return cmp.Compare(a.info.Load(), b.info.Load())
	})
	out := make([]registry.ServerInfo, len(rs))
	for i, r := range rs {
		out[i] = r.info
	}
	if len(out) > 0 {
		c.serverID, c.acceptedAt = out[0].ID, time.Time{}
	}
	return out
}

func (p *Proxy) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// Shutdown stops accepting, then waits for the spliced connections to end
// by themselves (publishers stop; a rolling restart drains) until ctx is
// done. Then it closes those left, waits for their goroutines and returns
// ctx.Err(). Serve returns ErrServerClosed.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	for l := range p.listeners {
		l.Close()
	}
	p.mu.Unlock()

	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	p.cancel()
	p.mu.Lock()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	<-done
	return ctx.Err()
}
