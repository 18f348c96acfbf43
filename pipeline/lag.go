package pipeline

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
)

// liveEdge maps the stream's time to the wall clock: when a publisher
// sending in real time had sent each timestamp. It is set by the route
// goroutine from the packets' arrivals and read by the others.
//
// A packet that arrives while the graph waits for input is at the live
// edge: the edge moves to it, later or earlier. A packet that was already
// waiting (the graph is behind, and the publisher is held back through
// TCP) only moves the edge earlier, when it is ahead of it, as a burst of
// held packets is. So the lag of a picture, now less its time on the edge,
// counts the time the publisher was held back, which a clock started from
// the arrivals alone would hide.
// The zero value has seen no packet.
type liveEdge struct {
	offset atomic.Int64 // unix ns of stream time 0, once set
	set    atomic.Bool
}

// arrived records a packet of stream time dts arriving now; fresh says
// the graph was waiting for it.
func (e *liveEdge) arrived(dts int64, now time.Time, fresh bool) {
	o := now.UnixNano() - int64(media.Duration(dts))
	if fresh || !e.set.Load() || o < e.offset.Load() {
		e.offset.Store(o)
		e.set.Store(true)
	}
}

// lag is how late a picture of stream time pts is at now; 0 before the
// first packet.
func (e *liveEdge) lag(pts int64, now time.Time) time.Duration {
	if !e.set.Load() {
		return 0
	}
	return max(time.Duration(now.UnixNano()-e.offset.Load())-media.Duration(pts), 0)
}

// idle marks a rendition with no picture in hand.
const idle = math.MinInt64

// renditionLag is the lag of the slowest rendition's picture in hand: an
// idle rendition is not behind, whatever its last picture was.
func (g *Graph) renditionLag(now time.Time) time.Duration {
	var lag time.Duration
	for i := range g.busy {
		if pts := g.busy[i].Load(); pts != idle {
			lag = max(lag, g.edge.lag(pts, now))
		}
	}
	return lag
}

// EncodeLag is how far the ladder is behind the publisher now: the lag of
// the slowest rendition's picture in hand, per rendition and their
// maximum. It is zero for a file and for renditions waiting for pictures.
func (g *Graph) EncodeLag() (worst time.Duration, each []time.Duration) {
	now := time.Now()
	each = make([]time.Duration, len(g.busy))
	for i := range g.busy {
		if pts := g.busy[i].Load(); pts != idle {
			each[i] = g.edge.lag(pts, now)
			worst = max(worst, each[i])
		}
	}
	return worst, each
}
