package pipeline

import (
	"context"
	"fmt"
	"runtime"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
)

// rendition is the goroutine of one rung: x264 → segmenter, as plain
// calls, so it alone owns its encoder, scaler and segmenter.
type rendition struct {
	g       *Graph
	index   int
	plan    Planned
	threads int
	frames  <-chan picture
	audio   <-chan *media.Packet
	seg     *hlsmux.Segmenter
	sawKey  bool
}

func (g *Graph) newRendition(i, threads int, frames <-chan picture, audio <-chan *media.Packet) (*rendition, error) {
	p := g.planned[i]
	cfg := g.segmenterConfig(p.Name)
	cfg.Video = true
	cfg.Audio = g.audioCfg
	cfg.FrameDuration = g.frameDuration()
	// Pictures reach x264 on the frame grid with keyframes on the clock
	// (retime.go), so a part is listed as soon as its last picture is out.
	cfg.KeyframeInterval = g.cfg.KeyframeInterval
	cfg.OnSegment = func(s hlsmux.SegmentInfo) {
		g.segCount[i].Add(1)
		if g.out.OnSegment != nil {
			g.out.OnSegment(p.Name, s)
		}
	}
	seg, err := hlsmux.NewSegmenter(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendition %s: %w", p.Name, err)
	}
	return &rendition{g: g, index: i, plan: p, threads: threads, frames: frames, audio: audio, seg: seg}, nil
}

// Run encodes until both inputs are closed, then flushes x264 and closes the
// segmenter (last segment, ENDLIST). On cancellation it returns ctx.Err()
// after releasing every frame it holds or is still sent.
func (r *rendition) Run(ctx context.Context) error {
	defer drainPackets(r.audio)
	defer drainFrames(r.frames)
	// x264 keeps per-thread state and its lookahead threads wake the
	// calling thread; pinning the goroutine to one OS thread keeps the
	// encoder's caller on a warm core instead of migrating between Go's
	// Ms on every cgo call (measured: ~3% less wall time on 2 cores).
	// The goroutine never unlocks: the thread is named for its rendition,
	// and in a file transcode every rendition but the largest lowers its
	// thread's priority (yieldNice), which the thread keeps, so it must
	// end with the goroutine.
	runtime.LockOSThread()
	nameThread("x264 " + r.plan.Name)
	if !r.g.paced() && r.index != largest(r.g.planned) {
		if err := yieldThread(); err != nil {
			r.g.log.Debug("could not lower an encoder thread's priority", "rendition", r.plan.Name, "err", err)
		}
	}
	p := r.plan
	ec := codec.VideoEncoderConfig{
		Width: p.OutWidth, Height: p.OutHeight, FrameRate: r.g.frameRate,
		Bitrate: int(p.VideoBitrate), MaxRate: int(p.MaxRate), BufSize: int(p.BufSize),
		CRF: r.g.cfg.CRF, Preset: r.g.cfg.PresetOf(p.Rendition), Profile: r.g.cfg.Profile,
		// The frame clock forces every keyframe (retime.go); x264's own
		// count, half a GOP later, is only a safety net.
		GOP: r.g.gop + r.g.gop/2, Threads: r.threads,
	}
	setDelay(&ec, r.g.cfg, r.g.out.Type == hlsmux.Live)
	enc, err := codec.NewVideoEncoder(ec)
	if err != nil {
		return fmt.Errorf("rendition %s: %w", p.Name, err)
	}
	defer enc.Close()

	frames, audio := r.frames, r.audio
	for frames != nil || audio != nil {
		select {
		case f, ok := <-frames:
			if !ok {
				// x264's last pictures are flushed once the audio has
				// ended too: written at once, before the audio up to
				// them, they would cut LL-HLS parts short of audio.
				frames = nil
				continue
			}
			if err := r.encode(enc, f); err != nil {
				return fmt.Errorf("rendition %s: %w", p.Name, err)
			}
		case a, ok := <-audio:
			if !ok {
				audio = nil
				continue
			}
			if err := r.seg.WriteAudio(a); err != nil {
				return fmt.Errorf("rendition %s: %w", p.Name, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := enc.Flush(r.writeVideo); err != nil {
		return fmt.Errorf("rendition %s: %w", p.Name, err)
	}
	if err := r.seg.Close(); err != nil {
		return fmt.Errorf("rendition %s: %w", p.Name, err)
	}
	return nil
}

// encode encodes the picture, already at the rendition's size (the decode
// goroutine scaled it), as a keyframe when the frame clock says so. The
// picture is released here. While it is in hand, busy holds its time,
// which is how the ladder's lag is measured.
func (r *rendition) encode(enc *codec.VideoEncoder, p picture) error {
	f := p.f
	defer f.Release()
	busy := &r.g.busy[r.index]
	busy.Store(f.PTS())
	defer busy.Store(idle)
	r.g.offerTaps(r.index, f)
	if p.key {
		return enc.EncodeKeyframe(f, r.writeVideo)
	}
	return enc.Encode(f, r.writeVideo)
}

func (r *rendition) writeVideo(p *media.Packet) error {
	if p.Keyframe && !r.sawKey {
		r.sawKey = true
		r.g.master.setCodec(r.index, p.Data)
	}
	r.g.encoded[r.index].Add(1)
	return r.seg.WriteVideo(p)
}
