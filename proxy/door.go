package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The proxy's door, as ingest's: a connection over MaxConns or over
// MaxConnsPerAddr from its address is closed as soon as it is accepted,
// before anything is allocated for it, and refusals are logged once a
// minute per reason and address, with a count. A refused connection costs
// no goroutine and no line of its own: one address reopening connections
// as fast as they are closed must not fill the log or the memory, nor
// hold every slot.

// DefaultMaxConnsPerAddr is Config.MaxConnsPerAddr's default: a
// publisher needs one, two while it reconnects before its old connection
// times out, and a few publishers may share a NAT.
const DefaultMaxConnsPerAddr = 8

const (
	// refusalLogInterval spaces the lines of one reason and address.
	refusalLogInterval = time.Minute
	// maxRefusalLogAddrs bounds the addresses logged apart; past it,
	// further addresses share one line per reason a minute.
	maxRefusalLogAddrs = 1024
)

type refusal uint8

const (
	refusedMaxConns refusal = iota
	refusedAddrConns
	refusedHandshake // TLS or RTMP handshake failed or timed out
)

func (r refusal) String() string {
	switch r {
	case refusedMaxConns:
		return "refused connections: max_conns open on the proxy"
	case refusedAddrConns:
		return "refused connections: max_conns_per_addr open from this address"
	default:
		return "refused connections: TLS or RTMP handshake failed"
	}
}

// admitLocked counts a connection from peer against the caps, or reports
// which one it is over. The caller holds p.mu.
func (p *Proxy) admitLocked(peer netip.Prefix) (refusal, bool) {
	switch {
	case p.cfg.MaxConns > 0 && len(p.conns) >= p.cfg.MaxConns:
		return refusedMaxConns, false
	case p.cfg.MaxConnsPerAddr > 0 && peer.IsValid() && p.perAddr[peer] >= p.cfg.MaxConnsPerAddr:
		return refusedAddrConns, false
	}
	if peer.IsValid() {
		p.perAddr[peer]++
	}
	return 0, true
}

// releaseLocked gives back a connection's share of the per-address cap.
// The caller holds p.mu.
func (p *Proxy) releaseLocked(peer netip.Prefix) {
	if !peer.IsValid() {
		return
	}
	if p.perAddr[peer] <= 1 {
		delete(p.perAddr, peer)
		return
	}
	p.perAddr[peer]--
}

// refused logs a refusal, at most once per refusalLogInterval per reason
// and address, with the count since the last line and the first's err.
func (p *Proxy) refused(why refusal, peer netip.Prefix, err error) {
	n, ok := p.refusals.note(why, peer, time.Now())
	if !ok {
		return
	}
	attrs := []any{"remote", prefixString(peer), "refused_since_last_line", n}
	switch why {
	case refusedMaxConns:
		attrs = append(attrs, "max_conns", p.cfg.MaxConns)
	case refusedAddrConns:
		attrs = append(attrs, "max_conns_per_addr", p.cfg.MaxConnsPerAddr)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	p.log.Warn(why.String(), attrs...)
}

// handshakeTLS does an RTMPS publisher's TLS handshake within
// handshakeTimeout, and returns the connection to read and write from
// then on. The proxy terminates TLS: it must read the publisher's
// commands (to replay them to another server), and servers take plain
// RTMP from it, with the publisher's address in a PROXY header.
func handshakeTLS(nc net.Conn, cfg *tls.Config) (net.Conn, error) {
	tc := tls.Server(nc, cfg)
	if err := nc.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// refusalLog says when a refusal is worth a line: the first of a reason
// and address, then the first after refusalLogInterval, with the count
// of those in between.
type refusalLog struct {
	mu    sync.Mutex
	lines map[refusalKey]refusalLine
}

type refusalKey struct {
	why refusal
	p   netip.Prefix // invalid: the addresses past maxRefusalLogAddrs
}

type refusalLine struct {
	last time.Time
	n    int
}

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

// peerPrefix is the capped share of a socket's remote address: the IPv4
// address, or the IPv6 /64 (one host's share); invalid if not IP.
func peerPrefix(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func prefixString(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "other addresses"
	case p.Addr().Is4() && p.Bits() == 32:
		return p.Addr().String()
	}
	return p.String()
}
