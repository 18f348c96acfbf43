package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// The slate: while a live stream's publisher is away (between a Break
// without Params and the first frame of the next publish), the ladder's
// encoders keep running on the last picture and silence, at the stream's
// frame rate and in real time, so every rendition keeps cutting segments
// on time: players see a still picture, never the end of the stream, and
// the next publish continues the same segments, media sequence and
// timestamps (the live package places its packets on the stream's time).

// slateClock is the stream's time while the publisher is away: it runs on
// from the time of the last packet before the Break at the wall clock's
// pace. The route goroutine sets it before it passes the Break on; the
// stages read it after they receive the Break.
type slateClock struct {
	at   atomic.Int64 // stream time (output ticks) of the last packet
	wall atomic.Int64 // unix ns when the Break was routed
}

func (c *slateClock) start(at int64, wall time.Time) {
	c.at.Store(at)
	c.wall.Store(wall.UnixNano())
}

// now is the stream's time at wall time t.
func (c *slateClock) now(t time.Time) int64 {
	return c.at.Load() + media.Ticks(time.Duration(t.UnixNano()-c.wall.Load()))
}

// receive waits for the next packet of in (ok false: in is closed) or,
// while the slate runs (ticks not nil), for its next tick.
func receive(ctx context.Context, in <-chan *media.Packet, ticks <-chan time.Time) (p *media.Packet, ok, ticked bool, err error) {
	select {
	case p, ok = <-in:
		return p, ok, false, nil
	case <-ticks:
		return nil, true, true, nil
	case <-ctx.Done():
		return nil, false, false, ctx.Err()
	}
}

// slateTick is how often a stage wakes to add the slate's frames: about a
// frame, so segments end on time and the encoders get an even load.
const slateTick = 20 * time.Millisecond

// hold repeats the last picture on every slot of the frame grid up to the
// stream time until: the slate's video. Before any picture was decoded the
// slate is black, at the source's size. send owns each picture it is given.
func (r *retimer) hold(until int64, send func(picture) error) error {
	if path := r.g.cfg.SlateImage; path != "" && !r.imageShown {
		// The operator's slate, once per absence: then repeated.
		img, err := codec.ReadImage(path)
		if err != nil {
			r.g.log.Warn("slate image unreadable: showing the last picture", "err", err)
		} else {
			s := r.clock.last + 1
			if r.prev == nil {
				s = 0
			}
			if r.clock.pts(s) > until && r.prev != nil {
				img.Release()
				return nil
			}
			if r.prev != nil {
				r.prev.Release()
				r.clock.take(s)
			} else {
				r.clock.place(until)
			}
			r.prev = img.Clone()
			r.g.slated.Add(1)
			if err := r.emit(img, s, false, send); err != nil {
				return err
			}
		}
		r.imageShown = true
	}
	if r.prev == nil {
		black, err := codec.Black(r.g.in.Video.Width, r.g.in.Video.Height, until)
		if err != nil {
			return err
		}
		r.g.slated.Add(1)
		if err := r.push(black, send); err != nil {
			return err
		}
	}
	for s := r.clock.last + 1; r.clock.pts(s) <= until; s++ {
		r.clock.take(s)
		r.g.slated.Add(1)
		if err := r.emit(r.prev.Clone(), s, true, send); err != nil {
			return err
		}
	}
	return nil
}

// take gives out slot s, later than the last, to a picture of the slate.
func (c *frameClock) take(s int64) {
	c.last, c.lastPTS = s, c.pts(s)
}

// silence is the audio path's slate: silence in the format of the last
// decoded frame (or the encoders' when there was none), from the end of
// the last frame on, in real time. It is used by the audio goroutine alone.
type silence struct {
	on      bool
	like    *codec.Frame // a reference to the last decoded frame, for its format; owned
	end     int64        // where the last frame fed to the resampler ended (ticks)
	ended   bool         // end is known
	from    int64        // where this stretch of silence started
	samples int64        // samples of silence made since from
	// resumed: the first decoded frame after a slate may overlap the
	// silence already made, by the decoder's delay; it is moved after it.
	resumed bool
}

// silenceChunk is how many samples of silence are made at a time: an AAC
// frame's worth.
const silenceChunk = 1024

// fed notes a decoded frame going to the resampler, and says whether it is
// to go: after a slate, a frame that ends before the silence does is
// dropped, and one that overlaps it starts where the silence ended.
func (s *silence) fed(f *codec.Frame) bool {
	rate := int64(max(f.SampleRate(), 1))
	dur := int64(f.Samples()) * media.ClockRate / rate
	if s.resumed && s.ended && f.PTS() < s.end {
		if f.PTS()+dur <= s.end {
			return false
		}
		f.SetPTS(s.end)
	}
	s.resumed = false
	s.end, s.ended = f.PTS()+dur, true
	if s.like != nil {
		s.like.Release()
	}
	s.like = f.Clone()
	return true
}

// fill makes the silence due by the stream time until, handing each frame
// to feed (which owns it).
func (s *silence) fill(until int64, rate, channels int, feed func(*codec.Frame) error) error {
	if s.like != nil {
		rate = s.like.SampleRate()
	}
	if !s.ended {
		s.end, s.ended = until, true
	}
	if s.samples == 0 {
		s.from = s.end
	}
	for {
		pts := s.from + s.samples*media.ClockRate/int64(rate)
		next := s.from + (s.samples+silenceChunk)*media.ClockRate/int64(rate)
		if next > until {
			return nil
		}
		f, err := codec.Silence(s.like, rate, channels, silenceChunk, pts)
		if err != nil {
			return err
		}
		s.samples += silenceChunk
		s.end = next
		if err := feed(f); err != nil {
			return err
		}
	}
}

// stop ends the stretch of silence: the next publish's frames follow.
func (s *silence) stop() {
	s.on, s.samples, s.resumed = false, 0, true
}

func (s *silence) close() {
	if s.like != nil {
		s.like.Release()
		s.like = nil
	}
}

// CheckSlateImage reports whether path is a picture the slate can show, so
// that a wrong Config.SlateImage fails at start-up, not at a publisher's
// first drop.
func CheckSlateImage(path string) error {
	img, err := codec.ReadImage(path)
	if err != nil {
		return err
	}
	img.Release()
	return nil
}
