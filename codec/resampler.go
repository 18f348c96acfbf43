package codec

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
)

// Resampler converts decoded audio to the encoders' format: planar float at
// one sample rate and channel count, cut into frames of exactly FrameSize
// samples (the last one may be shorter). go-astiav v0.16 has no resampler or
// audio FIFO of its own, so this is an FFmpeg filter graph:
// abuffer → aresample → aformat → asetnsamples → abuffersink.
//
// The graph is built from the first frame and rebuilt (after draining the
// old one) when the input format changes. Output PTS are in samples of the
// output rate. A Resampler is used by one goroutine. Close frees it.
type Resampler struct {
	rate, channels, frameSize int

	graph     *astiav.FilterGraph
	src, sink *astiav.FilterContext
	inRate    int
	inFmt     astiav.SampleFormat
	inLayout  string
	sinkTB    astiav.Rational
	out       *astiav.Frame
	last      *Frame // a reference to the last input frame, for its format and end
}

// NewResampler returns a resampler to rate Hz, channels channels and frames
// of frameSize samples.
func NewResampler(rate, channels, frameSize int) *Resampler {
	return &Resampler{rate: rate, channels: channels, frameSize: frameSize}
}

// Resample queues f (which is not released) and calls emit for every full
// output frame. emit owns each frame it is given.
func (r *Resampler) Resample(f *Frame, emit func(*Frame) error) error {
	layout := f.f.ChannelLayout().String()
	if r.graph == nil || f.f.SampleRate() != r.inRate || f.f.SampleFormat() != r.inFmt || layout != r.inLayout {
		if r.graph != nil {
			if err := r.finish(emit); err != nil {
				return err
			}
		}
		if err := r.reset(f.f.SampleRate(), f.f.SampleFormat(), layout); err != nil {
			return err
		}
	}
	if err := r.src.BuffersrcAddFrame(f.f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return fmt.Errorf("queue audio frame for resampling: %w", err)
	}
	if r.last != nil {
		r.last.Release()
	}
	r.last = f.Clone()
	return r.drain(emit)
}

// finish ends the graph of the old input format (the format changed: a
// new publisher of a live stream): its last partial frame is completed
// with silence, since an AAC encoder takes a short frame only as its very
// last, and the graph is discarded.
func (r *Resampler) finish(emit func(*Frame) error) error {
	defer r.Close()
	if r.last == nil {
		return nil
	}
	n := r.frameSize*r.inRate/r.rate + 1
	end := r.last.PTS() + int64(r.last.Samples())*media.ClockRate/int64(r.inRate)
	pad, err := Silence(r.last, 0, 0, n, end)
	if err != nil {
		return err
	}
	defer pad.Release()
	if err := r.src.BuffersrcAddFrame(pad.f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
		return fmt.Errorf("queue silence for resampling: %w", err)
	}
	return r.drain(emit)
}

// Flush emits what the graph still holds, including a last short frame.
func (r *Resampler) Flush(emit func(*Frame) error) error {
	if r.graph == nil {
		return nil
	}
	if err := r.src.BuffersrcAddFrame(nil, astiav.NewBuffersrcFlags()); err != nil {
		return fmt.Errorf("flush resampler: %w", err)
	}
	err := r.drain(emit)
	r.Close()
	return err
}

func (r *Resampler) drain(emit func(*Frame) error) error {
	for {
		if err := r.sink.BuffersinkGetFrame(r.out, astiav.NewBuffersinkFlags()); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("resample audio: %w", err)
		}
		f := &Frame{f: astiav.AllocFrame()}
		f.f.MoveRef(r.out)
		if f.f.Pts() != astiav.NoPtsValue {
			f.f.SetPts(astiav.RescaleQ(f.f.Pts(), r.sinkTB, astiav.NewRational(1, r.rate)))
		}
		if err := emit(f); err != nil {
			return err
		}
	}
}

func (r *Resampler) reset(inRate int, inFmt astiav.SampleFormat, inLayout string) (err error) {
	r.Close()
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	r.graph = astiav.AllocFilterGraph()
	r.out = astiav.AllocFrame()
	// One thread: the graph is cheap, and the pipeline already runs one
	// goroutine per CPU consumer.
	r.graph.SetThreadCount(1)
	r.src, err = r.graph.NewFilterContext(astiav.FindFilterByName("abuffer"), "in", astiav.FilterArgs{
		"channel_layout": inLayout,
		"sample_fmt":     inFmt.Name(),
		"sample_rate":    strconv.Itoa(inRate),
		"time_base":      clockTimeBase.String(),
	})
	if err != nil {
		return fmt.Errorf("create audio source %d Hz %s %s: %w", inRate, inFmt.Name(), inLayout, err)
	}
	r.sink, err = r.graph.NewFilterContext(astiav.FindFilterByName("abuffersink"), "out", nil)
	if err != nil {
		return fmt.Errorf("create audio sink: %w", err)
	}
	outputs, inputs := astiav.AllocFilterInOut(), astiav.AllocFilterInOut()
	defer outputs.Free()
	defer inputs.Free()
	outputs.SetName("in")
	outputs.SetFilterContext(r.src)
	outputs.SetPadIdx(0)
	outputs.SetNext(nil)
	inputs.SetName("out")
	inputs.SetFilterContext(r.sink)
	inputs.SetPadIdx(0)
	inputs.SetNext(nil)
	layout := "stereo"
	if r.channels == 1 {
		layout = "mono"
	}
	desc := fmt.Sprintf("aresample=%d,aformat=sample_fmts=fltp:channel_layouts=%s,asetnsamples=n=%d:p=0",
		r.rate, layout, r.frameSize)
	if err := r.graph.Parse(desc, inputs, outputs); err != nil {
		return fmt.Errorf("parse audio graph %q: %w", desc, err)
	}
	if err := r.graph.Configure(); err != nil {
		return fmt.Errorf("configure audio graph %q: %w", desc, err)
	}
	r.sinkTB = r.sink.Inputs()[0].TimeBase()
	r.inRate, r.inFmt, r.inLayout = inRate, inFmt, inLayout
	return nil
}

// Close frees the graph. It is idempotent.
func (r *Resampler) Close() {
	// go-astiav v0.16 registers the contexts it creates and only forgets
	// them in FilterContext.Free (later versions fixed FilterGraph.Free), so
	// free ours first; avfilter_free also unlinks them from the graph.
	if r.src != nil {
		r.src.Free()
		r.src = nil
	}
	if r.sink != nil {
		r.sink.Free()
		r.sink = nil
	}
	if r.graph != nil {
		r.graph.Free()
		r.graph = nil
	}
	if r.out != nil {
		r.out.Free()
		r.out = nil
	}
	if r.last != nil {
		r.last.Release()
		r.last = nil
	}
}
