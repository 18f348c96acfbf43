package live

import (
	"slices"

	"github.com/livestream/livestream/media"
	"sync"
	"time"
)

// arrivals remembers when the recent video packets of a stream arrived,
// by PTS, to tell how long after its last frame a segment was listed.
type arrivals struct {
	mu  sync.Mutex
	pts [2048]int64 // ~68 s at 30 fps: far more than a segment
	at  [2048]int64 // unix ns
	n   int
}

func (a *arrivals) add(pts int64, at time.Time) {
	a.mu.Lock()
	i := a.n % len(a.pts)
	a.pts[i], a.at[i] = pts, at.UnixNano()
	a.n++
	a.mu.Unlock()
}

// lastBefore returns when the last of the frames with a PTS below end
// arrived: when a segment (or part) that ends at end had all its frames.
// Behind B-frames that is not the frame with the largest PTS: a P-frame
// arrives before the B-frames shown ahead of it, so the newest arrival
// below end is the one.
func (a *arrivals) lastBefore(end int64) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := 1; k <= min(a.n, len(a.pts)); k++ {
		i := (a.n - k) % len(a.pts)
		if a.pts[i] < end {
			return time.Unix(0, a.at[i]), true
		}
	}
	return time.Time{}, false
}

// arrival returns when the frame at pts arrived, less what pts is ahead of it:
// the arrival of the frame with the largest PTS at or before pts, within
// a frame (100 ms) of it.
func (a *arrivals) arrival(pts int64) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	best, at := int64(0), int64(0)
	found := false
	for k := 0; k < min(a.n, len(a.pts)); k++ {
		if p := a.pts[k]; p <= pts && (!found || p > best) {
			best, at, found = p, a.at[k], true
		}
	}
	if !found || pts-best > media.ClockRate/10 {
		return time.Time{}, false
	}
	return time.Unix(0, at).Add(media.Duration(pts - best)), true
}

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10}

// latencyStats is the distribution of segment latencies: from the arrival
// of a segment's last frame over RTMP to the segment's listing in its
// media playlist.
type latencyStats struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
	recent [4096]float64
	n      int
}

func (l *latencyStats) observe(d time.Duration) {
	s := d.Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = make([]uint64, len(latencyBuckets))
	}
	for i, b := range latencyBuckets {
		if s <= b {
			l.counts[i]++
			break
		}
	}
	l.count++
	l.sum += s
	l.recent[l.n%len(l.recent)] = s
	l.n++
}

// Latency summarises the recent segment latencies.
type Latency struct {
	// Count is the number of segments summarised (the last 4096 at most).
	Count int `json:"count"`
	// P50 and P99 are quantiles in seconds.
	P50 float64 `json:"p50_seconds"`
	P99 float64 `json:"p99_seconds"`
}

func (l *latencyStats) summary() Latency {
	l.mu.Lock()
	v := slices.Clone(l.recent[:min(l.n, len(l.recent))])
	l.mu.Unlock()
	if len(v) == 0 {
		return Latency{}
	}
	slices.Sort(v)
	q := func(p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	return Latency{Count: len(v), P50: q(0.5), P99: q(0.99)}
}

// histogram returns the cumulative bucket counts Prometheus wants.
func (l *latencyStats) histogram() (count uint64, sum float64, buckets map[float64]uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buckets = make(map[float64]uint64, len(latencyBuckets))
	var cum uint64
	for i, b := range latencyBuckets {
		if l.counts != nil {
			cum += l.counts[i]
		}
		buckets[b] = cum
	}
	return l.count, l.sum, buckets
}
