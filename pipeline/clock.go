package pipeline

import "github.com/livestream/livestream/media"

// The stream's clocks: where each picture goes on the frame grid
// (frameClock), and which pictures start a GOP (keyClock). Both work on
// timestamps alone, so that they can be fuzzed; the ladder's retimer and
// every tap run their own.

// frameClock places pictures on a grid of a constant frame rate. Slot s of
// the grid is at origin + s frames, computed from the rate's fraction so
// that 29.97 fps never drifts; the first picture is slot 0.
//
// A picture goes to the slot nearest its time (the earlier one on a tie,
// so that a source at twice the rate keeps its pictures on the grid). When
// that slot is taken (a repeated timestamp, a source faster than the grid)
// the picture is dropped, with one exception: a picture a whole frame
// (¾ or more) after the last one, and no more than ¾ of a frame before
// the next slot, takes the next slot. That is the next picture of a source
// whose phase sits half a frame off the grid (a publisher's clock that
// stepped by half a frame, a looped file), where millisecond rounding
// sends its pictures alternately to either side of the half: without the
// exception every other one was dropped and its slot filled with a repeat
// (300 pictures in 120 s of a looped publish). So a picture is shown at
// most half a frame early and ¾ of a frame late, and audio stays in sync
// however long the stream runs, without a drift to correct. A hole of up to maxFill
// slots before a picture is to be filled by repeating the picture before
// it; a longer one (a source that sends nothing while its screen is
// still) stays a hole, which players show as the last picture held, and
// costs no burst of repeats. A jump of the publisher's whole clock never
// reaches here: media.Timeline closes it up at ingest.
type frameClock struct {
	num, den int64 // the grid's rate
	maxFill  int64
	started  bool
	origin   int64 // PTS of slot 0
	last     int64 // the last slot given out
	lastPTS  int64 // the PTS of the picture given it
}

func newFrameClock(rate media.Rational, maxFill int64) frameClock {
	return frameClock{num: int64(rate.Num), den: int64(rate.Den), maxFill: maxFill}
}

// place returns the slot of the picture at pts and how many slots before
// it are to be filled with the previous picture; ok is false when the
// picture is dropped.
func (c *frameClock) place(pts int64) (slot, fill int64, ok bool) {
	if !c.started {
		c.started, c.origin, c.last, c.lastPTS = true, pts, 0, pts
		return 0, 0, true
	}
	unit := media.ClockRate * c.den // one slot, in ticks × num
	at := (pts - c.origin) * c.num  // the picture's time, in the same unit
	slot = floorDiv(2*at+unit-1, 2*unit)
	if slot <= c.last {
		frameOn := 4*(pts-c.lastPTS)*c.num >= 3*unit
		nextSoon := 4*at >= (4*c.last+1)*unit // the next slot at most ¾ frame late
		if !frameOn || !nextSoon {
			return 0, 0, false
		}
		slot = c.last + 1
	}
	c.lastPTS = pts
	if fill = slot - c.last - 1; fill > c.maxFill {
		fill = 0
	}
	c.last = slot
	return slot, fill, true
}

// pts is the time of slot s.
func (c *frameClock) pts(s int64) int64 {
	return c.origin + floorDiv(s*media.ClockRate*c.den, c.num)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// maxFillTime is the longest hole in a source's pictures that the ladder
// fills with repeats: a few frames lost by a busy encoder come out as a
// constant frame rate, which x264's rate control and players like best,
// while a source that pauses for longer (a still screen) is not worth
// encoding a burst of copies for.
const maxFillTime = media.ClockRate / 2

// keyClock puts keyframes on a clock, as the ffmpeg CLI's -force_key_frames
// 'expr:gte(t,n_forced*2)' does: the first picture starts a GOP, then the
// first at or past each multiple of interval after it. A picture up to
// slack early counts as on time. A gap in the pictures keeps the grid: the
// next keyframe after it is the first picture past the gap, the one after
// that back on a multiple.
type keyClock struct {
	interval, slack int64
	next            int64 // the next keyframe time
	started         bool
}

// due reports whether the picture at pts starts a GOP. The clock moves
// only in start, when the picture is sure to reach the encoder.
func (k *keyClock) due(pts int64) bool {
	// A clock gone back more than an interval before the last keyframe
	// starts a new grid rather than waiting to catch up.
	return !k.started || pts+k.slack >= k.next || pts+k.slack < k.next-2*k.interval
}

// start records that the picture at pts, which was due, starts a GOP.
func (k *keyClock) start(pts int64) {
	if !k.started || pts+k.slack < k.next-2*k.interval {
		k.next, k.started = pts, true
	}
	k.next += (pts+k.slack-k.next)/k.interval*k.interval + k.interval
}
