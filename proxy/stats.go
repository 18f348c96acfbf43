package proxy

import "sync/atomic"

// Stats are a proxy's counters since New.
type Stats struct {
	// Conns counts accepted publisher connections, Active those open now.
	Conns, Active int64
	// Refused counts connections closed without a server: over
	// Config.MaxConns or MaxConnsPerAddr, a failed TLS or RTMP handshake,
	// no healthy server, none reachable.
	Refused int64
	// RefusedPerAddr counts those refused over Config.MaxConnsPerAddr;
	// TLSHandshakes those whose TLS handshake failed or timed out (a peer
	// that closed without a byte, a health check, is not counted).
	RefusedPerAddr, TLSHandshakes int64
	// DialFailures counts servers that could not be reached (refused,
	// timed out, PROXY header not written); Fallbacks counts connections
	// spliced to a server other than the first listed.
	DialFailures, Fallbacks int64
	// StaleLists counts connections placed on the last known server
	// list because the registry could not be read.
	StaleLists int64
	// BytesIn counts bytes from publishers to servers, BytesOut from
	// servers to publishers. They grow while a connection runs, by up to
	// 256 KiB at a time.
	BytesIn, BytesOut int64
}

type counters struct {
	conns, refused, dialFailures, fallbacks, staleLists, bytesIn, bytesOut atomic.Int64
	refusedPerAddr, tlsHandshakes                                          atomic.Int64
}

// Stats returns the counters now.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	active := len(p.conns)
	p.mu.Unlock()
	return Stats{
		Conns:          p.stats.conns.Load(),
		Active:         int64(active),
		Refused:        p.stats.refused.Load(),
		RefusedPerAddr: p.stats.refusedPerAddr.Load(),
		TLSHandshakes:  p.stats.tlsHandshakes.Load(),
		DialFailures:   p.stats.dialFailures.Load(),
		Fallbacks:      p.stats.fallbacks.Load(),
		StaleLists:     p.stats.staleLists.Load(),
		BytesIn:        p.stats.bytesIn.Load(),
		BytesOut:       p.stats.bytesOut.Load(),
	}
}
