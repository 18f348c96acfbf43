package record

import (
	"slices"
	"sync"
	"time"
)

// Stats are a Recorder's counters since New, for metrics.
type Stats struct {
	// Uploaded counts segments that reached the backend.
	Uploaded int64
	// FailedAttempts counts failed attempts to write to the backend
	// (segments, playlists, session info): it grows while the storage is
	// unreachable.
	FailedAttempts int64
	// SpoolBytes is the size of the segments (and fMP4 init sections)
	// waiting in the spool.
	SpoolBytes int64
	// Dropped counts segments refused because the spool was full or
	// could not be written: they are missing from their recording.
	Dropped int64
	// Sessions is the number of sessions recording or uploading.
	Sessions int
	// UploadP50 and UploadP99 are percentiles of the time from Segment
	// to the segment being in the backend, over the last latencyWindow
	// segments (those recovered after a restart left out).
	UploadP50, UploadP99 time.Duration
	// SpoolWriteP50 and SpoolWriteP99 are percentiles of the time
	// Segment took (the synchronous spool write), over the last
	// latencyWindow calls.
	SpoolWriteP50, SpoolWriteP99 time.Duration
}

// latencyWindow is how many recent samples the percentiles cover: about
// half an hour of one 2 s rendition, small enough to sort on each Stats.
const latencyWindow = 1024

// latencies keeps the last latencyWindow samples in a ring.
type latencies struct {
	mu   sync.Mutex
	ring []time.Duration
	next int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < latencyWindow {
		l.ring = append(l.ring, d)
		return
	}
	l.ring[l.next] = d
	l.next = (l.next + 1) % latencyWindow
}

// percentiles returns the 50th and 99th percentiles (nearest rank), zero
// without samples.
func (l *latencies) percentiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	s := slices.Clone(l.ring)
	l.mu.Unlock()
	if len(s) == 0 {
		return 0, 0
	}
	slices.Sort(s)
	rank := func(p int) time.Duration { return s[(len(s)*p+99)/100-1] }
	return rank(50), rank(99)
}
