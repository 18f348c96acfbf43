package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// decodeVideo is the one video decode of the stream. Each picture is cloned
// once per rendition (a reference, not a copy) and sent on; the original is
// released.
func (g *Graph) decodeVideo(ctx context.Context, in <-chan *media.Packet, outs []chan *codec.Frame) error {
	defer func() {
		for _, o := range outs {
			close(o)
		}
	}()
	defer drainPackets(in)
	dec, err := codec.NewVideoDecoder(g.in.Video, DecoderThreads(g.cfg, g.planned))
	if err != nil {
		return err
	}
	defer dec.Close()
	emit := func(f *codec.Frame) error {
		defer f.Release()
		g.offerTaps(-1, f)
		for _, o := range outs {
			c := f.Clone()
			select {
			case o <- c:
			case <-ctx.Done():
				c.Release()
				return ctx.Err()
			}
		}
		if g.decoded.Add(1) == 1 {
			g.firstPTS.Store(f.PTS())
		}
		g.lastPTS.Store(max(g.lastPTS.Load(), f.PTS()))
		return nil
	}
	var lastLog time.Time
	for p := range in {
		if err := dec.Decode(p, emit); err != nil {
			if !errors.Is(err, codec.ErrCorrupt) {
				return err
			}
			g.skipCorrupt(&lastLog, err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := dec.Flush(emit); err != nil {
		if !errors.Is(err, codec.ErrCorrupt) {
			return err
		}
		g.skipCorrupt(&lastLog, err)
	}
	return nil
}

// skipCorrupt counts a packet a decoder rejected, logging at most once a second.
func (g *Graph) skipCorrupt(lastLog *time.Time, err error) {
	n := g.corrupt.Add(1)
	if time.Since(*lastLog) >= time.Second {
		*lastLog = time.Now()
		g.log.Warn("skipping corrupt packet", "err", err, "corrupt_total", n)
	}
}
