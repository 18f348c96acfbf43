package ingest

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The door: each accepted connection is admitted or closed before go-rtmp
// sees it, so that a refused one costs no goroutine, no buffer and no log
// line of its own. Issue 14 measured what one address did without this:
// 1,100 connections reopened as fast as they were closed held every slot
// of MaxConns, failed 8 of 12 good publishes, and logged 116,759 lines
// in 30 s.

// refusalLogInterval spaces the lines logged for refusals of one reason
// from one address: a flood is one line a minute per address, with the
// count of the refusals since the last.
const refusalLogInterval = time.Minute

// maxRefusalLogAddrs bounds the addresses whose refusals are logged
// apart; past it, refusals from further addresses share one line per
// reason a minute.
const maxRefusalLogAddrs = 1024

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
	peer := socketPrefix(nc.RemoteAddr())
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
	case capped && !s.perAddr.acquire(peer):
		why = refusedAddrConns
		s.counters.addrConns.Add(1)
	default:
		s.open++
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	nc.Close()
	s.refused(why, peer, nil)
	return false
}

// claim counts c against the cap of the publisher's address its PROXY
// header named (a, from a trusted proxy), and reports false, having
// logged it, if that address has MaxConnsPerAddr open already.
func (s *Server) claim(c *conn, a netip.Addr) bool {
	p := prefix(a)
	s.mu.Lock()
	ok := s.perAddr.acquire(p)
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
		s.perAddr.release(c.slot)
	}
}

// refused logs a refusal, at most once per refusalLogInterval per reason
// and address, with the number since the last line and the first's err.
func (s *Server) refused(why refusal, p netip.Prefix, err error) {
	n, ok := s.refusals.note(why, p, time.Now())
	if !ok {
		return
	}
	attrs := []any{"remote", prefixString(p), "refused_since_last_line", n}
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

// addrConns counts the open connections of each address. Its size is
// bounded by the server's open connections. The server's mu guards it.
type addrConns struct {
	max int // < 0: no cap
	n   map[netip.Prefix]int
}

// acquire counts one more connection of p, unless p has max already. A
// connection whose address is unknown is not capped.
func (a *addrConns) acquire(p netip.Prefix) bool {
	if !p.IsValid() {
		return true
	}
	if a.max >= 0 && a.n[p] >= a.max {
		return false
	}
	a.n[p]++
	return true
}

func (a *addrConns) release(p netip.Prefix) {
	if a.n[p] <= 1 {
		delete(a.n, p)
		return
	}
	a.n[p]--
}

// refusalLog says when a refusal is worth a line: the first of a reason
// and address, then the first after refusalLogInterval, with the count of
// those not logged in between.
type refusalLog struct {
	mu    sync.Mutex
	lines map[refusalKey]refusalLine
}

type refusalKey struct {
	why refusal
	p   netip.Prefix // invalid: every address past maxRefusalLogAddrs
}

type refusalLine struct {
	last time.Time
	n    int
}

// note counts a refusal and reports whether to log it now, and how many
// refusals (this one included) the line stands for.
func (r *refusalLog) note(why refusal, p netip.Prefix, now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lines == nil {
		r.lines = map[refusalKey]refusalLine{}
	}
	k := refusalKey{why, p}
	l, ok := r.lines[k]
	if !ok && len(r.lines) >= maxRefusalLogAddrs {
		for k, l := range r.lines {
			if now.Sub(l.last) >= refusalLogInterval {
				delete(r.lines, k)
			}
		}
		if len(r.lines) >= maxRefusalLogAddrs {
			k = refusalKey{why: why}
			l, ok = r.lines[k]
		}
	}
	l.n++
	if ok && now.Sub(l.last) < refusalLogInterval {
		r.lines[k] = l
		return 0, false
	}
	n := l.n
	r.lines[k] = refusalLine{last: now}
	return n, true
}

// socketPrefix is the capped share of a socket's remote address, invalid
// if it is not an IP address.
func socketPrefix(a net.Addr) netip.Prefix {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return prefix(ip)
		}
	}
	return netip.Prefix{}
}

// prefixString names p in a log line: the address alone for one IPv4
// host, "other addresses" for the shared line.
func prefixString(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "other addresses"
	case p.Addr().Is4() && p.Bits() == 32:
		return p.Addr().String()
	}
	return p.String()
}
