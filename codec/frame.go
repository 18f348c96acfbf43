package codec

import (
	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
)

// Frame is a reference to a decoded picture or a buffer of audio samples.
//
// The holder of a Frame must call Release exactly once. Clone makes a new
// reference to the same pixels (no copy), so a frame can be fanned out to
// several consumers that each release their own reference.
type Frame struct {
	f *astiav.Frame
}

func newFrame() *Frame { return &Frame{f: astiav.AllocFrame()} }

// Clone returns a new reference to the same data. The caller owns it.
func (f *Frame) Clone() *Frame { return &Frame{f: f.f.Clone()} }

// Release drops this reference. The frame must not be used afterwards.
func (f *Frame) Release() {
	if f.f != nil {
		f.f.Free()
		f.f = nil
	}
}

// PTS is the presentation time in media.ClockRate ticks (video) or, for
// audio frames after the resampler, in samples of the output rate.
func (f *Frame) PTS() int64 { return f.f.Pts() }

// SetPTS sets this reference's presentation time (media.ClockRate ticks for
// video). Clones made before or after keep their own: the pipeline's frame
// clock retimes a picture it sends again without touching other holders'.
func (f *Frame) SetPTS(pts int64) { f.f.SetPts(pts) }

// Width and Height are the picture size (0 for audio).
func (f *Frame) Width() int  { return f.f.Width() }
func (f *Frame) Height() int { return f.f.Height() }

// Samples is the number of audio samples per channel (0 for video).
func (f *Frame) Samples() int { return f.f.NbSamples() }

// toTicks converts a timestamp in time base tb to media.ClockRate ticks.
func toTicks(ts int64, tb astiav.Rational) int64 {
	return astiav.RescaleQ(ts, tb, clockTimeBase)
}

var clockTimeBase = astiav.NewRational(1, media.ClockRate)

// SharesPixels reports whether f and g reference the same picture buffer
// (one is a Clone of the other, or both of a third).
func (f *Frame) SharesPixels(g *Frame) bool { return f.bufferAddr() == g.bufferAddr() }
