package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// TapConfig describes an extra encode of a stream's video outside the
// ladder (Twitch's 720p30 at 3500k, say), fed by the graph's one decode.
type TapConfig struct {
	// Name labels the tap in logs and errors ("twitch").
	Name string
	// Width and Height are the box the picture is fitted in, as a
	// rendition's: the source's aspect ratio, even sides, never upscaled.
	Width, Height int
	// MaxFrameRate caps the output rate: above it, frames are dropped
	// evenly (a 60 fps source becomes 30). Zero keeps the source's rate.
	MaxFrameRate media.Rational
	// Bitrate, MaxRate and BufSize (bit/s) drive x264's average bitrate
	// with a VBV cap, what the platforms ask of a contribution stream.
	Bitrate, MaxRate, BufSize int
	// KeyframeInterval is the GOP length in time. Default 2 s. Keyframes
	// are forced on the first picture at or past each multiple of it from
	// the tap's first picture, so that dropped pictures never stretch a
	// GOP (x264 counts GOPs in frames; Twitch wants them in seconds).
	KeyframeInterval time.Duration
	// Preset and Profile are x264's. Defaults: the graph's.
	Preset, Profile string
	// Queue is how many pictures may wait for the encoder; when it is full
	// the picture is dropped and counted, so that a tap never slows the
	// ladder, unless it is due to start a GOP: then the oldest queued
	// picture that is not makes room, and keyframes stay on time. Default
	// 30: a second at 30 fps of slack for x264's bursts and a busy machine
	// (up to 41 MB of 720p pictures, held only while the encoder is behind).
	Queue int
	// Emit receives each encoded packet, from the tap's goroutine: H.264
	// Annex B with an AUD and SPS/PPS before every IDR, timestamps on the
	// input's time line (like the packets given to Run). It must not block
	// for long: the tap's queue fills meanwhile.
	Emit func(*media.Packet)
}

// Tap is a running extra encode. Frames reach it from the decoder, or,
// when a rendition of the ladder has the tap's size, from that rendition's
// scaler, so a 720p tap on a 720p ladder costs x264 and nothing more.
type Tap struct {
	g       *Graph
	cfg     TapConfig
	w, h    int
	rate    media.Rational
	gop     int
	source  int           // index of the rendition whose scaled frames it takes; -1: the decoder's
	ready   chan struct{} // holds a token when a picture was queued (capacity 1)
	eos     chan struct{} // closed when the graph's stages have ended
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine returns
	eosOnce sync.Once

	mu     sync.Mutex // offer against the encoder's take and Close
	closed bool
	clock  frameClock   // in offer: the tap's frame grid; pictures above its rate find their slot taken
	keys   keyClock     // in offer: which pictures start a GOP
	queue  []tapPicture // oldest first, at most cfg.Queue; the tap owns each picture

	encoded, dropped atomic.Int64
	err              atomic.Pointer[error]
}

// tapPicture is a queued picture; key says x264 must make it an IDR.
type tapPicture struct {
	f   *codec.Frame
	key bool
}

const defaultTapQueue = 30

// ErrGraphEnded is returned by AddTap after the graph's input has ended.
var ErrGraphEnded = errors.New("pipeline: the stream has ended")

// AddTap starts an extra encode of the video. It may be called before or
// while Run runs; the tap gets the pictures decoded from then on and ends
// (flushing x264 into Emit) when the graph's input ends. Close stops it.
func (g *Graph) AddTap(cfg TapConfig) (*Tap, error) {
	if g.audioOnly {
		return nil, fmt.Errorf("tap %s: %w", cfg.Name, ErrAudioOnly)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Bitrate <= 0 || cfg.Emit == nil {
		return nil, fmt.Errorf("tap %s: size %dx%d, bitrate %d and Emit are required", cfg.Name, cfg.Width, cfg.Height, cfg.Bitrate)
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = 2 * time.Second
	}
	if cfg.Preset == "" {
		cfg.Preset = g.cfg.Preset
	}
	if cfg.Profile == "" {
		cfg.Profile = g.cfg.Profile
	}
	if cfg.Queue <= 0 {
		cfg.Queue = defaultTapQueue
	}
	p := Plan([]Rendition{{Width: cfg.Width, Height: cfg.Height}}, g.in.Video.Width, g.in.Video.Height)
	if len(p) == 0 {
		return nil, fmt.Errorf("tap %s: source %dx%d too small", cfg.Name, g.in.Video.Width, g.in.Video.Height)
	}
	t := &Tap{
		g: g, cfg: cfg, w: p[0].OutWidth, h: p[0].OutHeight, rate: g.frameRate, source: -1,
		ready: make(chan struct{}, 1),
		eos:   make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if m := cfg.MaxFrameRate; m.Valid() && t.rate.Float() > m.Float() {
		t.rate = m
	}
	t.gop = GOPFrames(cfg.KeyframeInterval, t.rate)
	// Pictures come on the graph's grid already; the tap's own drops those
	// above its rate, and never fills a hole (the ladder does, or leaves it).
	t.clock = newFrameClock(t.rate, 0)
	t.keys = keyClock{interval: media.Ticks(cfg.KeyframeInterval), slack: t.frameTicks() / 4}
	for i, r := range g.planned {
		if r.OutWidth == t.w && r.OutHeight == t.h {
			t.source = i
		}
	}
	g.tapsMu.Lock()
	if g.ended {
		g.tapsMu.Unlock()
		return nil, ErrGraphEnded
	}
	g.setTaps(append(slices.Clip(g.taps), t))
	g.tapsMu.Unlock()
	go t.run()
	return t, nil
}

// Size is the tap's output picture size.
func (t *Tap) Size() (w, h int) { return t.w, t.h }

// FrameRate is the tap's output frame rate.
func (t *Tap) FrameRate() media.Rational { return t.rate }

// Encoded is the number of pictures encoded, Dropped the number dropped
// because the queue was full.
func (t *Tap) Encoded() int64 { return t.encoded.Load() }
func (t *Tap) Dropped() int64 { return t.dropped.Load() }

// Err is why the tap stopped early (x264 failed to open, say), or nil.
func (t *Tap) Err() error {
	if e := t.err.Load(); e != nil {
		return *e
	}
	return nil
}

// Done is closed when the tap's goroutine has returned: after the graph's
// input ended and x264 was flushed, after Close, or after a failure.
func (t *Tap) Done() <-chan struct{} { return t.done }

// Close detaches the tap and stops it without flushing, then releases every
// picture still queued. It is idempotent and returns when the tap's
// goroutine has returned.
func (t *Tap) Close() {
	t.mu.Lock()
	first := !t.closed
	t.closed = true
	t.mu.Unlock()
	if first {
		close(t.stop)
		t.g.removeTap(t)
	}
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.queue {
		p.f.Release()
	}
	t.queue = nil
}

// offer queues a reference to f without blocking. A full queue drops it,
// or, when f is due to start a GOP, the oldest queued picture that is not:
// a keyframe that never reaches x264 would leave the GOP to x264's frame
// count, longer by every picture dropped.
func (t *Tap) offer(f *codec.Frame) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	slot, _, ok := t.clock.place(f.PTS())
	if !ok {
		return
	}
	pts := t.clock.pts(slot)
	key := t.keys.due(pts)
	if len(t.queue) >= t.cfg.Queue {
		t.dropped.Add(1)
		if !key {
			return
		}
		i := max(slices.IndexFunc(t.queue, func(p tapPicture) bool { return !p.key }), 0)
		t.queue[i].f.Release()
		t.queue = slices.Delete(t.queue, i, i+1)
	}
	if key {
		t.keys.start(pts)
	}
	c := f.Clone()
	c.SetPTS(pts)
	t.queue = append(t.queue, tapPicture{f: c, key: key})
	select {
	case t.ready <- struct{}{}:
	default: // the encoder has a token already and will find this picture
	}
}

// take removes the oldest queued picture; the caller owns it.
func (t *Tap) take() (tapPicture, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue) == 0 {
		return tapPicture{}, false
	}
	p := t.queue[0]
	t.queue[0] = tapPicture{}
	t.queue = t.queue[1:]
	return p, true
}

// endOfStream tells the tap no more pictures will come.
func (t *Tap) endOfStream() { t.eosOnce.Do(func() { close(t.eos) }) }

func (t *Tap) run() {
	defer close(t.done)
	if err := t.encodeAll(); err != nil && !errors.Is(err, context.Canceled) {
		t.err.Store(&err)
		t.g.log.Warn("tap stopped", "tap", t.cfg.Name, "err", err)
	}
}

// encodeAll runs x264 until the end of the stream or Close. Like a
// rendition, it keeps to one OS thread and one x264 thread: one 720p30
// veryfast encode takes about half a core, so one thread keeps up and
// costs the least CPU.
func (t *Tap) encodeAll() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ec := codec.VideoEncoderConfig{
		Width: t.w, Height: t.h, FrameRate: t.rate,
		Bitrate: t.cfg.Bitrate, MaxRate: t.cfg.MaxRate, BufSize: t.cfg.BufSize,
		// The forced keyframes come first; x264's own count, half a GOP
		// later, is a safety net should the clock stand still.
		Preset: t.cfg.Preset, Profile: t.cfg.Profile, GOP: t.gop + t.gop/2, Threads: 1,
	}
	setDelay(&ec, t.g.cfg, true)
	enc, err := codec.NewVideoEncoder(ec)
	if err != nil {
		return fmt.Errorf("tap %s: %w", t.cfg.Name, err)
	}
	defer enc.Close()
	scaler := codec.NewScaler(t.w, t.h)
	defer scaler.Close()
	emit := func(p *media.Packet) error {
		// Frames carry the graph's output time line; Emit wants the input's.
		shift := t.g.base.Load() - outputOffset
		p.PTS += shift
		p.DTS += shift
		t.encoded.Add(1)
		t.cfg.Emit(p)
		return nil
	}
	encode := func(p tapPicture) error {
		defer p.f.Release()
		pic := p.f
		if codec.NeedsScaling(pic, t.w, t.h) {
			s, err := scaler.Scale(pic)
			if err != nil {
				return err
			}
			defer s.Release()
			pic = s
		}
		if p.key {
			return enc.EncodeKeyframe(pic, emit)
		}
		return enc.Encode(pic, emit)
	}
	for {
		if p, ok := t.take(); ok {
			select {
			case <-t.stop:
				p.f.Release()
				return context.Canceled
			default:
			}
			if err := encode(p); err != nil {
				return fmt.Errorf("tap %s: %w", t.cfg.Name, err)
			}
			continue
		}
		select {
		case <-t.ready:
		case <-t.stop:
			return context.Canceled
		case <-t.eos:
			// Every offer came before eos: what is queued is the rest.
			for p, ok := t.take(); ok; p, ok = t.take() {
				if err := encode(p); err != nil {
					return fmt.Errorf("tap %s: %w", t.cfg.Name, err)
				}
			}
			if err := enc.Flush(emit); err != nil {
				return fmt.Errorf("tap %s: %w", t.cfg.Name, err)
			}
			return nil
		}
	}
}

// frameTicks is one output frame in media.ClockRate ticks.
func (t *Tap) frameTicks() int64 {
	return int64(media.ClockRate) * int64(t.rate.Den) / int64(t.rate.Num)
}

// offerTaps offers f to the taps fed by source (-1: the decoder). It is
// called for every frame, so it reads the list without a lock and without
// allocating.
func (g *Graph) offerTaps(source int, f *codec.Frame) {
	ts := g.tapsNow.Load()
	if ts == nil {
		return
	}
	for _, t := range *ts {
		if t.source == source {
			t.offer(f)
		}
	}
}

// setTaps replaces the list of taps; tapsMu is held.
func (g *Graph) setTaps(ts []*Tap) {
	g.taps = ts
	g.tapsNow.Store(&ts)
}

func (g *Graph) removeTap(t *Tap) {
	g.tapsMu.Lock()
	defer g.tapsMu.Unlock()
	g.setTaps(slices.DeleteFunc(slices.Clone(g.taps), func(x *Tap) bool { return x == t }))
}

// endTaps is called when every stage has returned: no picture will come.
func (g *Graph) endTaps() {
	g.tapsMu.Lock()
	g.ended = true
	ts := g.taps
	g.tapsMu.Unlock()
	for _, t := range ts {
		t.endOfStream()
	}
}
