package proxy

import (
	"crypto/tls"
	"fmt"
	"github.com/livestream/livestream/door"
	"net"
	"net/netip"
	"time"
)

// The proxy's door, ingest's (package door): a connection over MaxConns
// or over MaxConnsPerAddr from its address is reset as soon as it is
// accepted, before anything is allocated for it, and refusals are logged
// once a minute per reason and address, with a count.

// DefaultMaxConnsPerAddr is Config.MaxConnsPerAddr's default, ingest's.
const DefaultMaxConnsPerAddr = door.DefaultMaxConnsPerAddr

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
	if p.cfg.MaxConns > 0 && len(p.conns) >= p.cfg.MaxConns {
		return refusedMaxConns, false
	}
	if !p.perAddr.Acquire(peer) {
		return refusedAddrConns, false
	}
	return 0, true
}

// refused logs a refusal, at most once per door.RefusalLogInterval per reason
// and address, with the count since the last line and the first's err.
func (p *Proxy) refused(why refusal, peer netip.Prefix, err error) {
	n, ok := p.refusals.Note(why, peer, time.Now())
	if !ok {
		return
	}
	attrs := []any{"remote", door.PrefixString(peer), "refused_since_last_line", n}
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
