package ingest

import (
	"context"
	"github.com/livestream/livestream/door"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// The door: each accepted connection is admitted or closed before go-rtmp
// sees it, so that a refused one costs no goroutine, no buffer and no log
// line of its own. Issue 14 measured what one address did without this:
// 1,100 connections reopened as fast as they were closed held every slot
// of MaxConns, failed 8 of 12 good publishes, and logged 116,759 lines
// in 30 s.

// refusal is why a connection was closed at the door, for its log line.
type refusal uint8

const (
	refusedMaxConns refusal = iota
	refusedAddrConns
	refusedTLS
	closedEarly // closed before publishing: timeouts, protocol errors
)

func (r refusal) String() string {
	switch r {
	case refusedMaxConns:
		return "refused connections: max_conns open on the server"
	case refusedAddrConns:
		return "refused connections: max_conns_per_addr open from this address"
	case refusedTLS:
		return "refused connections: TLS handshake failed or did not finish in time"
	default:
		return "connections closed before publishing"
	}
}

// admit decides, before anything is allocated for it, whether nc may be
// served: the server is not closing, has fewer than MaxConns connections
// and nc's address fewer than MaxConnsPerAddr. It closes nc when not.
// Behind proxies (ProxyProtocol) the peer is a proxy and not capped: its
// publishers are, once their header is read (claim).
func (s *Server) admit(nc net.Conn) bool {
	peer := door.SocketPrefix(nc.RemoteAddr())
	capped := !s.cfg.ProxyProtocol
	var why refusal
	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		nc.Close()
		return false
	case s.open >= s.cfg.MaxConns:
		why = refusedMaxConns
		s.counters.maxConns.Add(1)
	case capped && !s.perAddr.Acquire(peer):
		why = refusedAddrConns
		s.counters.addrConns.Add(1)
	default:
		s.open++
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	door.Reset(nc)
	s.refused(why, peer, nil)
	return false
}

// claim counts c against the cap of the publisher's address its PROXY
// header named (a, from a trusted proxy), and reports false, having
// logged it, if that address has MaxConnsPerAddr open already.
func (s *Server) claim(c *conn, a netip.Addr) bool {
	p := door.Prefix(a)
	s.mu.Lock()
	ok := s.perAddr.Acquire(p)
	if ok {
		c.slot = p
	}
	s.mu.Unlock()
	if !ok {
		s.counters.addrConns.Add(1)
		s.refused(refusedAddrConns, p, nil)
	}
	return ok
}

// release gives back c's share of the caps, once go-rtmp is done with it.
func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if c.slot.IsValid() {
		s.perAddr.Release(c.slot)
	}
}

// refused logs a refusal, at most once per door.RefusalLogInterval per reason
// and address, with the number since the last line and the first's err.
func (s *Server) refused(why refusal, p netip.Prefix, err error) {
	n, ok := s.refusals.Note(why, p, time.Now())
	if !ok {
		return
	}
	attrs := []any{"remote", door.PrefixString(p), "refused_since_last_line", n}
	switch why {
	case refusedMaxConns:
		attrs = append(attrs, "max_conns", s.cfg.MaxConns)
	case refusedAddrConns:
		attrs = append(attrs, "max_conns_per_addr", s.cfg.MaxConnsPerAddr)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	level := slog.LevelWarn
	if why == closedEarly {
		level = slog.LevelInfo
	}
	s.log.Log(context.Background(), level, why.String(), attrs...)
}
