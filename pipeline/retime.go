package pipeline

import (
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// picture is a decoded picture on its way to a rendition; key says the
// frame clock made it the start of a GOP, repeat that it is the previous
// picture again, filling a hole. The receiver owns f.
type picture struct {
	f           *codec.Frame
	key, repeat bool
}

// retimer is the ladder's frame clock: it sits between the one decode and
// the renditions, so every encoder gets the same pictures at the same
// strictly increasing times on the stream's frame grid, with keyframes on
// the clock (every KeyframeInterval of stream time, whatever was dropped
// or repeated), and, for a live stream, pictures skipped while the ladder
// is over its lag budget. It is used by the decode goroutine alone.
type retimer struct {
	g      *Graph
	clock  frameClock
	keys   keyClock
	prev   *codec.Frame  // the last picture placed, to fill holes with; owned
	budget time.Duration // 0: never skip (a file)

	// imageShown: the configured slate image went out in this absence
	// of the publisher; the next decoded picture clears it.
	imageShown bool
	skipping   bool // a lag episode is on
	episode    time.Time
	episodeN   int64 // pictures skipped in this episode
}

func newRetimer(g *Graph) *retimer {
	r := &retimer{
		g:      g,
		clock:  newFrameClock(g.frameRate, maxFillTime*int64(g.frameRate.Num)/(media.ClockRate*int64(g.frameRate.Den))),
		keys:   keyClock{interval: media.Ticks(g.cfg.KeyframeInterval), slack: g.frameDuration() / 4},
		budget: g.LagBudget(),
	}
	return r
}

// push places the decoded picture f (which it owns) on the grid and hands
// what comes of it to send: repeats of the previous picture for a hole,
// then f itself, each with its slot's time; or nothing, when f is dropped.
// send owns each picture it is given, even when it fails.
func (r *retimer) push(f *codec.Frame, send func(picture) error) error {
	slot, fill, ok := r.clock.place(f.PTS())
	if !ok {
		r.g.droppedLate.Add(1)
		f.Release()
		return nil
	}
	for s := slot - fill; s < slot; s++ {
		r.g.duplicated.Add(1)
		if err := r.emit(r.prev.Clone(), s, true, send); err != nil {
			f.Release()
			return err
		}
	}
	if r.prev != nil {
		r.prev.Release()
	}
	r.prev = f.Clone()
	r.imageShown = false
	return r.emit(f, slot, false, send)
}

// emit times f at slot and sends it, unless the ladder is over its lag
// budget and f is not due to start a GOP: then f is skipped.
func (r *retimer) emit(f *codec.Frame, slot int64, repeat bool, send func(picture) error) error {
	pts := r.clock.pts(slot)
	f.SetPTS(pts)
	key := r.keys.due(pts)
	if r.behind(pts) && !key {
		r.g.droppedLag.Add(1)
		r.episodeN++
		f.Release()
		return nil
	}
	if key {
		r.keys.start(pts)
	}
	return send(picture{f: f, key: key, repeat: repeat})
}

// behind reports whether pictures are to be skipped: from when the
// ladder's lag passes the budget until it is back under half of it. An
// episode is logged when it starts and when it ends.
func (r *retimer) behind(pts int64) bool {
	if r.budget <= 0 {
		return false
	}
	now := time.Now()
	lag := max(r.g.edge.lag(pts, now), r.g.renditionLag(now))
	switch {
	case !r.skipping && lag > r.budget:
		r.skipping, r.episode, r.episodeN = true, now, 0
		r.g.lagEpisodes.Add(1)
		r.g.behind.Store(true)
		r.g.log.Warn("ladder behind the publisher: skipping pictures until it catches up",
			"lag", lag.Round(time.Millisecond), "lag_budget", r.budget)
	case r.skipping && lag < r.budget/2:
		r.skipping = false
		r.g.behind.Store(false)
		r.g.log.Info("ladder caught up with the publisher",
			"lag", lag.Round(time.Millisecond), "skipped", r.episodeN, "after", now.Sub(r.episode).Round(time.Millisecond))
	}
	return r.skipping
}

// close releases the picture kept for filling holes.
func (r *retimer) close() {
	if r.prev != nil {
		r.prev.Release()
		r.prev = nil
	}
}
