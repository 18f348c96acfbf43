package pipeline

import (
	"context"
	"errors"
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
	defer dec.Close()
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
	resample := func(f *codec.Frame) error {
		defer f.Release()
		return rs.Resample(f, encode)
	}
	var lastLog time.Time
	for p := range in {
		if err := dec.Decode(p, resample); err != nil {
			if !errors.Is(err, codec.ErrCorrupt) {
				return err
			}
			g.skipCorrupt(&lastLog, err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := dec.Flush(resample); err != nil {
		if !errors.Is(err, codec.ErrCorrupt) {
			return err
		}
		g.skipCorrupt(&lastLog, err)
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
