package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"golang.org/x/sync/errgroup"
)

// Input describes the stream entering the graph.
type Input struct {
	Video media.VideoParams
	// Audio is nil for a stream without audio.
	Audio *media.AudioParams
}

// Output says where and how the ladder is written.
type Output struct {
	Store hlsmux.Store
	// Type is hlsmux.Live for a live stream, hlsmux.VOD for a file.
	Type hlsmux.PlaylistType
	// FirstSeq is the first segment number of every rendition: the start
	// time in milliseconds, so that a restarted stream never reuses a number.
	FirstSeq int64
	// Master is the master playlist's name in the store. Default "live.m3u8".
	Master string
	// Continues, when set, says the stream continues one that another
	// server of a cluster wrote (its publisher reconnected here): every
	// rendition's first segment is marked EXT-X-DISCONTINUITY, and the
	// discontinuity sequence starts at Continues.DiscontinuitySequence.
	Continues *Continuation
	// OnSegment, when set, is called from the rendition's goroutine after
	// each segment and its playlist are in the store.
	OnSegment func(rendition string, s hlsmux.SegmentInfo)
	Logger    *slog.Logger

	// Format is the segments' container (hlsmux.TS by default).
	Format hlsmux.Format
	// PartTarget, with hlsmux.FMP4 and a Live output, writes LL-HLS
	// playlists with parts of at most this long (hlsmux.SegmenterConfig).
	PartTarget time.Duration
	// Edge, when set, is advanced by every rendition's segmenter as it
	// lists parts, under the rendition's name.
	Edge *hlsmux.Edge
	// Wallclock, when set, maps an output PTS to when its frame arrived,
	// for EXT-X-PROGRAM-DATE-TIME.
	Wallclock func(pts int64) (time.Time, bool)
	// OnPart, when set, is called from the rendition's goroutine after
	// each part and its playlist are in the store.
	OnPart func(rendition string, p hlsmux.PartInfo)
}

// segmenterConfig is what every rendition's segmenter shares.
func (g *Graph) segmenterConfig(name string) hlsmux.SegmenterConfig {
	cont, discSeq := g.continuation()
	c := hlsmux.SegmenterConfig{
		Dir:                   path.Join(path.Dir(g.out.Master), name),
		Store:                 g.out.Store,
		Type:                  g.out.Type,
		TargetDuration:        g.cfg.SegmentDuration,
		Window:                g.cfg.PlaylistWindow,
		FirstSeq:              g.out.FirstSeq,
		Continues:             cont,
		DiscontinuitySequence: discSeq,
		Format:                g.out.Format,
		PartTarget:            g.out.PartTarget,
		EndHold:               g.out.PartTarget,
		Edge:                  g.out.Edge,
		Wallclock:             g.out.Wallclock,
	}
	if g.out.OnPart != nil {
		c.OnPart = func(p hlsmux.PartInfo) { g.out.OnPart(name, p) }
	}
	return c
}

// Continuation is where a stream continues another's playlists.
type Continuation struct {
	// DiscontinuitySequence is the number of discontinuities in the
	// stream before the first segment of this graph.
	DiscontinuitySequence int
}

// Graph is the stage graph of one stream. Create it with New, run it once.
type Graph struct {
	cfg       Config
	in        Input
	out       Output
	log       *slog.Logger
	planned   []Planned
	gop       int
	frameRate media.Rational
	// audioRates are the distinct AAC bitrates; audioOf[i] indexes it for rendition i.
	audioRates []Bitrate
	audioOf    []int
	audioCfg   *aac.Config
	master     *masterWriter
	renditions []*rendition
	// audioOnly: no video (NewAudioOnly); audioRend is its one rendition.
	audioOnly bool
	audioRend *audioRendition

	decoded  atomic.Int64   // video frames decoded
	lastPTS  atomic.Int64   // PTS of the last decoded video frame
	firstPTS atomic.Int64   // PTS of the first decoded video frame
	corrupt  atomic.Int64   // packets the decoders rejected
	base     atomic.Int64   // input DTS that output outputOffset maps to
	based    atomic.Bool    // base is set
	encoded  []atomic.Int64 // video frames out of x264, per rendition
	segCount []atomic.Int64 // segments written, per rendition
	// busy is the PTS of the picture each rendition has in hand, idle
	// when it waits for one; edge maps it to the wall clock (lag.go).
	busy []atomic.Int64
	edge liveEdge
	// The frame clock's counts (retime.go): pictures dropped because
	// their slot was taken or because the ladder was over its lag budget,
	// pictures repeated to fill a hole, and lag episodes.
	droppedLate, droppedLag, duplicated, lagEpisodes atomic.Int64
	behind                                           atomic.Bool // a lag episode is on
	// slate is the stream's time while its publisher is away; slated
	// counts the slate's pictures.
	slate           slateClock
	slated          atomic.Int64
	frameRateSource string
	// file: the input is read from a file (OpenFile) as fast as the
	// ladder takes it, not sent in real time: it has no live edge to lag
	// behind, whatever its output's type.
	file bool

	tapsMu sync.Mutex
	taps   []*Tap // copy on write, under tapsMu
	ended  bool   // every stage has returned; no tap may be added
	// tapsNow is taps as last written, for the per-frame readers
	// (offerTaps), which take no lock.
	tapsNow atomic.Pointer[[]*Tap]
}

// New plans the ladder for in. cfg gets its defaults and is validated.
func New(cfg Config, in Input, out Output) (*Graph, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if in.Video.Width <= 0 || in.Video.Height <= 0 {
		return nil, fmt.Errorf("source size %dx%d: must be known", in.Video.Width, in.Video.Height)
	}
	if out.Store == nil {
		return nil, errors.New("pipeline output: no store")
	}
	if out.Master == "" {
		out.Master = "live.m3u8"
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	g := &Graph{cfg: cfg, in: in, out: out, log: out.Logger}
	g.frameRate, g.frameRateSource = media.StandardFrameRate(in.Video.FrameRate), in.Video.FrameRateSource
	if !media.PlausibleFrameRate(g.frameRate) {
		g.log.Warn("source frame rate unknown, assuming 30 fps", "frame_rate", in.Video.FrameRate.String())
		g.frameRate, g.frameRateSource = media.Rational{Num: 30, Den: 1}, "default"
	}
	g.gop = GOPFrames(cfg.KeyframeInterval, g.frameRate)
	g.planned = Plan(cfg.Ladder, in.Video.Width, in.Video.Height)
	if in.Audio != nil {
		g.audioCfg = &aac.Config{ObjectType: 2, SampleRate: cfg.AudioSampleRate, Channels: cfg.AudioChannels}
		for _, r := range g.planned {
			idx := -1
			for j, b := range g.audioRates {
				if b == r.AudioBitrate {
					idx = j
				}
			}
			if idx < 0 {
				idx = len(g.audioRates)
				g.audioRates = append(g.audioRates, r.AudioBitrate)
			}
			g.audioOf = append(g.audioOf, idx)
		}
	}
	g.encoded = make([]atomic.Int64, len(g.planned))
	g.segCount = make([]atomic.Int64, len(g.planned))
	g.busy = make([]atomic.Int64, len(g.planned))
	for i := range g.busy {
		g.busy[i].Store(idle)
	}
	g.master = newMasterWriter(g)
	return g, nil
}

// Renditions is the ladder as it is produced for this source.
func (g *Graph) Renditions() []Planned { return g.planned }

// GOP is the keyframe interval in frames.
func (g *Graph) GOP() int { return g.gop }

// Progress reports the video frames decoded so far and the PTS of the last one.
func (g *Graph) Progress() (frames int64, pts int64) { return g.decoded.Load(), g.lastPTS.Load() }

// SourcePTS maps a PTS of the output (a segment's, say) back to the input's
// time line; ok is false before the first packet.
func (g *Graph) SourcePTS(out int64) (in int64, ok bool) {
	if !g.based.Load() {
		return 0, false
	}
	return out - outputOffset + g.base.Load(), true
}

// Stats is a snapshot of a graph's progress.
type Stats struct {
	// Decoded is the number of video frames decoded; LastPTS the PTS of
	// the last one, in media.ClockRate ticks of the input's time line.
	Decoded, FirstPTS, LastPTS int64
	Corrupt                    int64
	// The frame clock's work: pictures dropped because their slot on the
	// grid was taken (DroppedLate) or because the ladder was over its lag
	// budget (DroppedLag), pictures repeated to fill a hole (Duplicated),
	// and the times the ladder went over its lag budget (LagEpisodes).
	DroppedLate, DroppedLag, Duplicated, LagEpisodes int64
	// Slate is the number of pictures of the slate, shown while the
	// publisher was away (a live stream's reconnect window).
	Slate      int64
	Renditions []RenditionStats
}

// RenditionStats is one rendition's progress.
type RenditionStats struct {
	Name          string
	Width, Height int
	// Encoded is the number of video frames out of x264 (AAC frames for
	// an audio-only graph's rendition), Segments the number of segments
	// written.
	Encoded, Segments int64
}

// Stats returns the graph's progress. It may be called from any goroutine,
// before, while and after Run.
func (g *Graph) Stats() Stats {
	st := Stats{
		Decoded: g.decoded.Load(), FirstPTS: g.firstPTS.Load(), LastPTS: g.lastPTS.Load(), Corrupt: g.corrupt.Load(),
		DroppedLate: g.droppedLate.Load(), DroppedLag: g.droppedLag.Load(), Duplicated: g.duplicated.Load(), LagEpisodes: g.lagEpisodes.Load(),
		Slate: g.slated.Load(),
	}
	for i, p := range g.planned {
		st.Renditions = append(st.Renditions, RenditionStats{
			Name: p.Name, Width: p.OutWidth, Height: p.OutHeight,
			Encoded: g.encoded[i].Load(), Segments: g.segCount[i].Load(),
		})
	}
	return st
}

// Corrupt is the number of packets the decoders rejected and skipped.
func (g *Graph) Corrupt() int64 { return g.corrupt.Load() }

// Run transcodes the packets received from in until in is closed, then
// flushes every stage, cuts the last segments and ends the playlists, and
// returns nil. When ctx is cancelled it stops at once, frees everything and
// returns ctx.Err(). The sender must stop sending when ctx is done.
//
// Packet timestamps may start anywhere; the outputs start at outputOffset.
func (g *Graph) Run(ctx context.Context, in <-chan *media.Packet) error {
	eg, ctx := errgroup.WithContext(ctx)
	if g.audioOnly {
		g.runAudioOnly(ctx, eg, in)
		err := eg.Wait()
		g.endTaps()
		if err != nil {
			return err
		}
		return g.master.finish()
	}

	ladders.Add(1) // before the threads are chosen
	defer ladders.Add(-1)

	// Policies. Every edge blocks: the slowest rendition paces the decode,
	// the decode paces the input, and the input pushes back on its sender.
	// Frame edges are 2 deep (decoded pictures are big); packet edges are a
	// little deeper so the audio path and the segmenters' interleaving are
	// not starved while x264 works.
	videoIn := make(chan *media.Packet, 8)
	var audioIn chan *media.Packet
	frames := make([]chan picture, len(g.planned))
	audioOut := make([]chan *media.Packet, len(g.planned))
	for i := range g.planned {
		frames[i] = make(chan picture, frameQueue)
		if g.in.Audio != nil {
			audioOut[i] = make(chan *media.Packet, 64)
		}
	}
	if g.in.Audio != nil {
		audioIn = make(chan *media.Packet, 32)
	}

	eg.Go(func() error { return g.route(ctx, in, videoIn, audioIn) })
	eg.Go(func() error { return g.decodeVideo(ctx, videoIn, frames) })
	if audioIn != nil {
		eg.Go(func() error { return g.runAudio(ctx, audioIn, audioOut) })
	}
	g.renditions = make([]*rendition, len(g.planned))
	for i := range g.planned {
		st, err := g.newRendition(i, EncoderThreads(g.cfg, g.planned[i], g.planned), frames[i], audioOut[i])
		if err != nil {
			// Stages already started see the cancellation through eg.
			eg.Go(func() error { drainFrames(frames[i]); drainPackets(audioOut[i]); return err })
			continue
		}
		g.renditions[i] = st
		eg.Go(func() error { return st.Run(ctx) })
	}
	err := eg.Wait()
	g.endTaps()
	if err != nil {
		return err
	}
	return g.master.finish()
}

// outputOffset is where output timestamps start (1 s): room below the first
// PTS for x264's B-frame DTS shift and the segmenter's PCR delay, so no TS
// timestamp is ever negative.
const outputOffset = media.ClockRate

// frameQueue is how many decoded pictures may wait for each rendition. The
// renditions run at different speeds within a GOP (720p x264 is ~4x the
// work of 360p); a queue of 8 lets the decoder run ahead instead of
// stalling on the slowest one, for ~1.5 MB of pictures per 720p slot
// (measured: ~4% less wall time than a queue of 2 on 2 cores).
const frameQueue = 8

// route splits the input by kind and rebases timestamps to outputOffset.
// A nil video or audio channel drops that kind. For a live stream it keeps
// the live edge (lag.go) from the packets' arrivals.
func (g *Graph) route(ctx context.Context, in <-chan *media.Packet, video, audio chan<- *media.Packet) error {
	if video != nil {
		defer close(video)
	}
	if audio != nil {
		defer close(audio)
	}
	base, based := int64(0), false
	lastDTS := int64(outputOffset)
	live := g.paced()
	for {
		var p *media.Packet
		var ok, fresh bool
		select {
		case p, ok = <-in:
		default: // the graph is waiting for the publisher
			fresh = true
			select {
			case p, ok = <-in:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			break
		}
		if p.Kind == media.Break {
			// The publisher left, or the next one starts: the stages go
			// to (or stay on) the slate, from the last packet's time.
			if p.Params == nil {
				g.slate.start(lastDTS, time.Now())
			}
			for _, out := range []chan<- *media.Packet{video, audio} {
				if out == nil {
					continue
				}
				select {
				case out <- p:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			continue
		}
		if !based {
			base, based = p.DTS, true
			g.base.Store(base)
			g.based.Store(true)
		}
		q := *p
		q.PTS, q.DTS = p.PTS-base+outputOffset, p.DTS-base+outputOffset
		lastDTS = max(lastDTS, q.DTS)
		if live {
			g.edge.arrived(q.DTS, time.Now(), fresh)
		}
		var out chan<- *media.Packet
		switch p.Kind {
		case media.Video:
			out = video
		case media.Audio:
			out = audio
		}
		if out == nil {
			continue
		}
		select {
		case out <- &q:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return ctx.Err()
}

func drainFrames(c <-chan picture) {
	for p := range c {
		p.f.Release()
	}
}

func drainPackets(c <-chan *media.Packet) {
	if c == nil {
		return
	}
	for range c {
	}
}

// continuation is the segmenters' view of Output.Continues.
func (g *Graph) continuation() (bool, int) {
	if g.out.Continues == nil {
		return false, 0
	}
	return true, g.out.Continues.DiscontinuitySequence
}

// segments lists rendition i's segments; call it only after Run's stages ended.
func (g *Graph) segments(i int) []hlsmux.SegmentInfo {
	if g.audioOnly {
		if g.audioRend == nil {
			return nil
		}
		return g.audioRend.seg.Playlist().Segments()
	}
	if g.renditions[i] == nil {
		return nil
	}
	return g.renditions[i].seg.Playlist().Segments()
}

// paced reports whether the input comes in real time from a publisher, so
// that the ladder can fall behind it.
func (g *Graph) paced() bool { return g.out.Type == hlsmux.Live && !g.file }

// LagBudget is how far the ladder may fall behind its publisher before it
// skips pictures: the config's for a live input, 0 (never) for a file.
func (g *Graph) LagBudget() time.Duration {
	if !g.paced() {
		return 0
	}
	return g.cfg.LagBudget
}

// FrameRate is the frame rate the ladder is encoded at; zero for an
// audio-only graph.
func (g *Graph) FrameRate() media.Rational { return g.frameRate }

// FrameRateSource says where FrameRate came from: the input's
// media.VideoParams.FrameRateSource, or "default" when it had no plausible
// rate and 30 fps was assumed.
func (g *Graph) FrameRateSource() string { return g.frameRateSource }

// Behind reports whether the ladder is over its lag budget now, skipping
// pictures until it catches up.
func (g *Graph) Behind() bool { return g.behind.Load() }

// frameDuration is one frame in media.ClockRate ticks.
func (g *Graph) frameDuration() int64 {
	return int64(media.ClockRate) * int64(g.frameRate.Den) / int64(g.frameRate.Num)
}
