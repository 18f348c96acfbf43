package srt

import "sync/atomic"

// Stats is a snapshot of a Server's own counters, for metrics: totals
// since Listen. What SRT publishes share with RTMP (authentication
// failures, publishes refused by the Handler, active publishes, dropped
// packets) is counted in ingest.Server's Stats. It holds no key and no
// address.
type Stats struct {
	// Requests counts the connection requests (SRT handshakes) taken.
	Requests int64
	// Refused counts requests refused before the key was looked at, by
	// why.
	Refused RefusedStats
	// NotMPEGTS counts publishes ended because their bytes were not
	// MPEG-TS.
	NotMPEGTS int64
}

// RefusedStats counts requests refused before the key check.
type RefusedStats struct {
	// StreamID: no key in the stream id, or a broken one.
	StreamID int64
	// Mode: a stream id asking to read (m=request).
	Mode int64
	// Passphrase: missing, unexpected or wrong.
	Passphrase int64
	// Version: an SRT handshake v4 caller (no stream id).
	Version int64
}

type counters struct {
	requests, streamID, mode, passphrase, version, notTS atomic.Int64
}

// Stats returns the server's counters now, from any goroutine.
func (s *Server) Stats() Stats {
	c := &s.counters
	return Stats{
		Requests: c.requests.Load(),
		Refused: RefusedStats{StreamID: c.streamID.Load(), Mode: c.mode.Load(),
			Passphrase: c.passphrase.Load(), Version: c.version.Load()},
		NotMPEGTS: c.notTS.Load(),
	}
}
