package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// decodeVideo is the one video decode of the stream. Each picture goes
// through the frame clock (retime.go), then is cloned once per rendition (a
// reference, not a copy) and sent on; the original is released.
func (g *Graph) decodeVideo(ctx context.Context, in <-chan *media.Packet, outs []chan picture) error {
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
	clock := newRetimer(g)
	defer clock.close()
	send := func(p picture) error {
		defer p.f.Release()
		g.offerTaps(-1, p.f)
		for _, o := range outs {
			c := picture{f: p.f.Clone(), key: p.key}
			select {
			case o <- c:
			case <-ctx.Done():
				c.f.Release()
				return ctx.Err()
			}
		}
		return nil
	}
	emit := func(f *codec.Frame) error {
		if g.decoded.Add(1) == 1 {
			g.firstPTS.Store(f.PTS())
		}
		g.lastPTS.Store(max(g.lastPTS.Load(), f.PTS()))
		return clock.push(f, send)
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
