package pipeline

import (
	"context"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// runAudio is the one audio path of the stream: decode once, resample once,
// encode AAC once per distinct bitrate, and send each packet (shared, it is
// immutable) to the renditions that use that bitrate.
func (g *Graph) runAudio(ctx context.Context, in <-chan *media.Packet, outs []chan *media.Packet) (err error) {
	defer func() {
		for _, o := range outs {
			close(o)
		}
	}()
	defer drainPackets(in)
	dec, err := codec.NewAudioDecoder(*g.in.Audio)
	if err != nil {
		return err
	}
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	encs := make([]*codec.AudioEncoder, len(g.audioRates))
	defer func() {
		for _, e := range encs {
			if e != nil {
				e.Close()
			}
		}
	}()
	for i, b := range g.audioRates {
		if encs[i], err = codec.NewAudioEncoder(int(b), g.cfg.AudioSampleRate, g.cfg.AudioChannels); err != nil {
			return err
		}
	}
	rs := codec.NewResampler(g.cfg.AudioSampleRate, g.cfg.AudioChannels, encs[0].FrameSize())
	defer rs.Close()

	sends := make([]func(*media.Packet) error, len(encs))
	for i := range encs {
		sends[i] = func(p *media.Packet) error {
			for r, o := range outs {
				if g.audioOf[r] != i {
					continue
				}
				select {
				case o <- p:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		}
	}
	encode := func(f *codec.Frame) error {
		defer f.Release()
		for i, e := range encs {
			if err := e.Encode(f, sends[i]); err != nil {
				return err
			}
		}
		return nil
	}
	feed := func(f *codec.Frame) error {
		defer f.Release()
		return rs.Resample(f, encode)
	}
	// sil is the slate's silence while the publisher is away, until the
	// next publish's first frame.
	var sil silence
	defer sil.close()
	tick := time.NewTicker(slateTick)
	tick.Stop()
	defer tick.Stop()
	resample := func(f *codec.Frame) error {
		if sil.on {
			sil.stop()
			tick.Stop()
		}
		if !sil.fed(f) {
			f.Release()
			return nil
		}
		return feed(f)
	}
	var lastLog time.Time
	flush := func() error { return g.skipCorrupt(&lastLog, dec.Flush(resample)) }
	for {
		var ticks <-chan time.Time
		if sil.on {
			ticks = tick.C
		}
		p, ok, ticked, err := receive(ctx, in, ticks)
		if err != nil {
			return err
		}
		if ticked {
			if err := sil.fill(g.slate.now(time.Now()), g.cfg.AudioSampleRate, g.cfg.AudioChannels, feed); err != nil {
				return err
			}
			continue
		}
		if !ok {
			break
		}
		if p.Kind == media.Break {
			if p.Params == nil { // the publisher is gone: its last frames, then silence
				if dec != nil {
					if err := flush(); err != nil {
						return err
					}
					dec.Close()
					dec = nil
				}
				sil.on = true
				tick.Reset(slateTick)
			} else if a := p.Params.Audio; a != nil {
				if dec != nil {
					dec.Close()
				}
				if dec, err = codec.NewAudioDecoder(*a); err != nil {
					return err
				}
			}
			continue
		}
		if dec == nil {
			continue
		}
		if err := g.skipCorrupt(&lastLog, dec.Decode(p, resample)); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dec != nil {
		if err := flush(); err != nil {
			return err
		}
	}
	if err := rs.Flush(encode); err != nil {
		return err
	}
	for i, e := range encs {
		if err := e.Flush(sends[i]); err != nil {
			return err
		}
	}
	return nil
}
