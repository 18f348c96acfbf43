package ingest

import "sync/atomic"

// Stats is a snapshot of a Server's counters, for metrics: totals since
// NewServer, and the publishes open now. It holds no stream key and no
// address, so that nothing exported from it can.
type Stats struct {
	// Connections counts the TCP connections accepted, those closed at
	// once (Refused) included.
	Connections int64
	// Refused counts connections closed before they published, by why.
	Refused RefusedStats
	// AuthFailures counts publishes refused by authentication, by why.
	AuthFailures AuthFailureStats
	// DroppedPackets counts the media packets publishes dropped: video
	// before the first keyframe, and packets of a track the Sink was not
	// started with. It grows as they are dropped, not when a publish ends.
	DroppedPackets int64
	// ActivePublishes is the number of publishes accepted (the Handler
	// gave a Sink) and not yet ended.
	ActivePublishes int64
}

// RefusedStats counts connections closed before they published.
type RefusedStats struct {
	// MaxConns: accepted while Config.MaxConns connections were open.
	MaxConns int64
	// MaxConnsPerAddr: accepted while Config.MaxConnsPerAddr connections
	// from its address were open.
	MaxConnsPerAddr int64
	// TLSHandshake: an RTMPS connection whose TLS handshake failed or did
	// not finish within HandshakeTimeout. A peer that closed without
	// sending a byte (a TCP health check) is not counted.
	TLSHandshake int64
	// ProxyHeader: no valid PROXY protocol header within
	// HandshakeTimeout (Config.ProxyProtocol). A peer that closed without
	// sending a byte (a TCP health check) is not counted.
	ProxyHeader int64
	// UntrustedProxy: from a peer outside Config.TrustedProxies.
	UntrustedProxy int64
	// WrongApp: connected to an app other than Config.App.
	WrongApp int64
	// Handler: the key was good but Handler.Publish refused the publish
	// (the channel is already live, the server is at capacity).
	Handler int64
}

// AuthFailureStats counts publishes refused by authentication.
type AuthFailureStats struct {
	// UnknownKey: a key unknown, revoked, rotated away or malformed.
	UnknownKey int64
	// Delayed: unknown keys (counted in UnknownKey too) whose refusal
	// waited, the address having failed too often (Config.AuthFailures).
	Delayed int64
	// Unavailable: the Authenticator failed (the registry is down); the
	// key may be good.
	Unavailable int64
}

// counters are a Server's running totals, updated from its connections'
// goroutines.
type counters struct {
	conns                                     atomic.Int64
	maxConns, addrConns, tlsHandshake         atomic.Int64
	proxyHeader, untrusted, wrongApp, handler atomic.Int64
	unknownKey, delayed, unavailable          atomic.Int64
	dropped, publishing                       atomic.Int64
}

// Stats returns the server's counters now. It is safe to call at any
// time, from any goroutine (a metrics scrape).
func (s *Server) Stats() Stats {
	c := &s.counters
	return Stats{
		Connections: c.conns.Load(),
		Refused: RefusedStats{
			MaxConns: c.maxConns.Load(), MaxConnsPerAddr: c.addrConns.Load(), TLSHandshake: c.tlsHandshake.Load(),
			ProxyHeader: c.proxyHeader.Load(), UntrustedProxy: c.untrusted.Load(),
			WrongApp: c.wrongApp.Load(), Handler: c.handler.Load(),
		},
		AuthFailures: AuthFailureStats{
			UnknownKey: c.unknownKey.Load(), Delayed: c.delayed.Load(), Unavailable: c.unavailable.Load(),
		},
		DroppedPackets:  c.dropped.Load(),
		ActivePublishes: c.publishing.Load(),
	}
}
