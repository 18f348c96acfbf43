package hlsmux

import "github.com/livestream/livestream/media"

// audioQueue holds audio frames until the video catches up with them: the
// AAC encoder has almost no delay and x264 has a lookahead, so audio
// arrives up to ~0.5 s ahead of the video of the same time.
type audioQueue struct {
	q []*media.Packet
}

func (a *audioQueue) push(p *media.Packet) { a.q = append(a.q, p) }

func (a *audioQueue) len() int { return len(a.q) }

// countBefore is the number of queued frames with PTS before limit (the
// queue is in PTS order).
func (a *audioQueue) countBefore(limit int64) int {
	n := 0
	for n < len(a.q) && a.q[n].PTS < limit {
		n++
	}
	return n
}

// popOldest removes and returns the n oldest frames. The returned slice is
// valid until the next push.
func (a *audioQueue) popOldest(n int) []*media.Packet {
	out := append([]*media.Packet(nil), a.q[:n]...)
	m := copy(a.q, a.q[n:])
	clear(a.q[m:])
	a.q = a.q[:m]
	return out
}

func (a *audioQueue) dropOldest() { a.popOldest(1) }

// dropBefore drops the frames with PTS before limit.
func (a *audioQueue) dropBefore(limit int64) { a.popOldest(a.countBefore(limit)) }
