package pipeline

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// decodeVideo is the one video decode of the stream. Each picture goes
// through the frame clock (retime.go), then is scaled to every rendition's
// size right here while it is in the cache (scale.go), and each rendition
// is sent its own picture; the decoded one is released.
func (g *Graph) decodeVideo(ctx context.Context, in <-chan *media.Packet, outs []chan picture) error {
	defer func() {
		for _, o := range outs {
			close(o)
		}
	}()
	defer drainPackets(in)
	// One named thread (top -H, perf) for the decode and the scales; it
	// ends with the goroutine, never reused under that name.
	runtime.LockOSThread()
	nameThread("decode+scale")
	dec, err := codec.NewVideoDecoder(g.in.Video, DecoderThreads(g.cfg, g.planned, g.in.Video.Codec))
	if err != nil {
		return err
	}
	defer func() {
		if dec != nil {
			dec.Close()
		}
	}()
	clock := newRetimer(g)
	defer clock.close()
	scaler := newLadderScaler(g.planned, g.in.Video.Width, g.in.Video.Height, g.cfg.DirectScaling)
	defer scaler.close()
	send := func(p picture) error {
		defer p.f.Release()
		g.offerTaps(-1, p.f)
		pics, err := scaler.scale(p.f, p.repeat)
		if err != nil {
			return err
		}
		for i, o := range outs {
			select {
			case o <- picture{f: pics[i], key: p.key}:
			case <-ctx.Done():
				for _, f := range pics[i:] {
					f.Release()
				}
				return ctx.Err()
			}
		}
		return nil
	}
	// slating: the publisher is away and the slate runs until the next
	// publish's first picture.
	slating := false
	tick := time.NewTicker(slateTick)
	tick.Stop()
	defer tick.Stop()
	emit := func(f *codec.Frame) error {
		if slating {
			slating = false
			tick.Stop()
		}
		if g.decoded.Add(1) == 1 {
			g.firstPTS.Store(f.PTS())
		}
		g.lastPTS.Store(max(g.lastPTS.Load(), f.PTS()))
		return clock.push(f, send)
	}
	var lastLog time.Time
	flush := func() error { return g.skipCorrupt(&lastLog, dec.Flush(emit)) }
	for {
		var ticks <-chan time.Time
		if slating {
			ticks = tick.C
		}
		p, ok, ticked, err := receive(ctx, in, ticks)
		if err != nil {
			return err
		}
		if ticked {
			if err := clock.hold(g.slate.now(time.Now()), send); err != nil {
				return err
			}
			continue
		}
		if !ok {
			break
		}
		if p.Kind == media.Break {
			if p.Params == nil { // the publisher is gone: its last pictures, then the slate
				if dec != nil {
					if err := flush(); err != nil {
						return err
					}
					dec.Close()
					dec = nil
				}
				slating = true
				tick.Reset(slateTick)
			} else if v := p.Params.Video; v != nil {
				if dec != nil { // a publisher taking over without a gap
					dec.Close()
				}
				if dec, err = codec.NewVideoDecoder(*v, DecoderThreads(g.cfg, g.planned, v.Codec)); err != nil {
					return err
				}
			}
			continue
		}
		if dec == nil {
			continue // video of a publish without video params: never sent
		}
		if err := g.skipCorrupt(&lastLog, dec.Decode(p, emit)); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dec != nil {
		return flush()
	}
	return nil
}

// skipCorrupt returns err, a decoder's, unless it is codec.ErrCorrupt: a
// packet the decoder rejected is counted and skipped (nil), logged at most
// once a second.
func (g *Graph) skipCorrupt(lastLog *time.Time, err error) error {
	if err == nil || !errors.Is(err, codec.ErrCorrupt) {
		return err
	}
	n := g.corrupt.Add(1)
	if time.Since(*lastLog) >= time.Second {
		*lastLog = time.Now()
		g.log.Warn("skipping corrupt packet", "err", err, "corrupt_total", n)
	}
	return nil
}
