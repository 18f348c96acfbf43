package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/relay"
)

// Stream is what viewers watch of a channel: its ladder, playlists,
// recording session and relays, from its first publish to its end. Its
// publishes (Publish, one at a time) feed it; it outlives a publisher that
// drops, for the reconnect window.
type Stream struct {
	m        *Manager
	ch       registry.Channel
	log      *slog.Logger
	begun    time.Time
	firstSeq int64
	mem      *hlsmux.MemoryStore
	store    hlsmux.Store
	mirror   string

	ctx    context.Context
	cancel context.CancelFunc

	packets chan *media.Packet
	endOnce sync.Once

	// window is how long the stream waits for its publisher to come back:
	// the channel's own, or the server's.
	window time.Duration
	// mu guards the publish state: the publish feeding the stream (nil
	// while it is away), the timer of the reconnect window, and whether
	// the stream takes publishes no more (stopping: key revoked or
	// server shutting down; closed: it is ending).
	mu        sync.Mutex
	pub       *Publish
	awayTimer *time.Timer
	stopping  bool
	closed    bool
	// writeMu orders what goes into packets: one publish's packets, the
	// Breaks between publishes, the close. Under it: wrote (a packet
	// went in), lastDTS (the latest, on the stream's time) and awayAt
	// (when the last publisher left or was taken over).
	writeMu sync.Mutex
	wrote   bool
	lastDTS int64
	awayAt  time.Time
	// For Info: when the publisher left (unix ns, 0 while one is
	// connected), the publishes after the first, the publisher's address.
	awaySince  atomic.Int64
	reconnects atomic.Int64
	remote     atomic.Pointer[string]

	// continues: the stream goes on from another server's (Continuity),
	// after discBase discontinuities; adv keeps its position in the
	// cluster (nil: no Continuity).
	continues bool
	discBase  int
	adv       *advancer

	graph    atomic.Pointer[pipeline.Graph]
	rec      *recording    // nil: not recorded; set before graph
	route    *announcer    // nil: no Routes; set before graph
	finished chan struct{} // closed when the pipeline has returned
	endDone  chan struct{} // closed when End has ended the stream
	runErr   error         // set before finished is closed

	fromURL     []destination // the relay destinations named in the publish URL
	relays      relays
	arrivals    arrivals
	latency     latencyStats
	partLatency latencyStats
	// edge is the newest part of each rendition (LL-HLS), for blocking
	// playlist reload; it ends with the stream.
	edge          *hlsmux.Edge
	ending        atomic.Bool // End has begun: the last segments are flushed
	ingestBytes   atomic.Int64
	firstPacketAt atomic.Int64 // unix ns; 0 before the first packet
	endedAt       atomic.Int64 // unix ns; 0 while live
	// video and audio are the first publish's codecs, which the ladder
	// was built for; current those of the publish now (for Info).
	video   *media.VideoParams
	audio   *media.AudioParams
	current atomic.Pointer[media.Params]
	// fixes and jumps count what the publishes' timelines repaired.
	fixes, jumps atomic.Int64
}

func (m *Manager) newStream(ch registry.Channel, now time.Time, seq int64) (*Stream, error) {
	s := &Stream{
		m: m, ch: ch, begun: now, firstSeq: seq, window: ch.Settings.ReconnectWindowOr(m.cfg.ReconnectWindow),
		log:      m.log.With("channel_id", ch.ID, "playback_id", ch.PlaybackID),
		mem:      hlsmux.NewMemoryStore(),
		edge:     hlsmux.NewEdge(),
		packets:  make(chan *media.Packet, m.cfg.QueuePackets),
		finished: make(chan struct{}),
		endDone:  make(chan struct{}),
	}
	s.store = s.mem
	if dir := m.mirrorDir(ch.PlaybackID); dir != "" {
		// The previous stream's files would mix with this one's.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("clear HLS mirror of %s: %w", ch.PlaybackID, err)
		}
		ds, err := hlsmux.NewDirStore(dir)
		if err != nil {
			return nil, fmt.Errorf("HLS mirror of %s: %w", ch.PlaybackID, err)
		}
		s.mirror = dir
		s.store = &teeStore{mem: s.mem, dir: ds, log: s.log}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Channel is the channel this stream publishes.
func (s *Stream) Channel() registry.Channel { return s.ch }

// start builds the pipeline for the first publish's codecs and starts it,
// before its first packet. video or audio may be nil: a stream without
// video becomes one audio-only rendition.
func (s *Stream) start(video *media.VideoParams, audio *media.AudioParams) error {
	out := pipeline.Output{
		Store: s.store, Type: hlsmux.Live, FirstSeq: s.firstSeq, Logger: s.log,
		OnSegment: s.segmentListed, Continues: s.continuation(),
		Edge: s.edge, Wallclock: s.wallclock, OnPart: s.partListed,
	}
	out.Format, out.PartTarget = s.m.cfg.HLS.Output(hlsmux.Live)
	var g *pipeline.Graph
	var err error
	switch {
	case video != nil:
		g, err = pipeline.New(s.m.cfg.Pipeline, pipeline.Input{Video: *video, Audio: audio}, out)
	case audio != nil:
		g, err = pipeline.NewAudioOnly(s.m.cfg.Pipeline, *audio, out)
	default:
		return ErrNoMedia
	}
	if err != nil {
		return err
	}
	s.video, s.audio = video, audio
	var names []string
	for _, r := range g.Renditions() {
		if g.AudioOnly() {
			names = append(names, fmt.Sprintf("%s %s", r.Name, r.AudioBitrate))
			continue
		}
		names = append(names, fmt.Sprintf("%s %dx%d", r.Name, r.OutWidth, r.OutHeight))
	}
	var attrs []any
	if video != nil {
		attrs = append(attrs, "video", fmt.Sprintf("%dx%d %s fps", video.Width, video.Height, video.FrameRate))
	}
	attrs = append(attrs, "renditions", names)
	if audio != nil {
		attrs = append(attrs, "audio", fmt.Sprintf("%s %d Hz %d ch", audio.Codec, audio.SampleRate, audio.Channels))
	}
	msg := "transcoding"
	if g.AudioOnly() {
		msg = "transcoding audio only: the stream has no video"
	}
	s.log.Info(msg, attrs...)
	s.relays.begin(s.m.cfg.Relays, g, video, audio, s.log)
	s.rec = s.startRecording(g)
	if s.m.cfg.Routes != nil {
		s.route = &announcer{
			routes: s.m.cfg.Routes, pid: s.ch.PlaybackID, since: s.begun, ttl: s.m.cfg.RouteTTL,
			want: len(g.Renditions()), log: s.log,
		}
	}
	s.graph.Store(g)
	go func() {
		s.runErr = g.Run(s.ctx, s.packets)
		// Nothing more will be listed, even after an abort.
		s.edge.EndAll()
		close(s.finished)
	}()
	return nil
}

// segmentListed hands the segment to the recording and to the route's
// announcer (a stream is routed to once every rendition has a segment),
// and measures its
// latency: from the arrival of its last frame to now, when it is listed.
// Segments cut by the final flush wait for the publisher to leave, not for
// the pipeline: they are left out of the latency.
func (s *Stream) segmentListed(rendition string, seg hlsmux.SegmentInfo) {
	g := s.graph.Load()
	if g != nil && s.rec != nil {
		s.rec.segment(s.store, rendition, seg)
	}
	if s.adv != nil && g != nil && rendition == g.Renditions()[0].Name {
		s.adv.segment(seg)
	}
	if g == nil || s.ending.Load() {
		return
	}
	if s.route != nil {
		s.route.segment(rendition)
	}
	end, ok := g.SourcePTS(seg.StartPTS + media.Ticks(seg.Duration))
	if !ok {
		return
	}
	if at, ok := s.arrivals.lastBefore(end); ok {
		d := time.Since(at)
		s.latency.observe(d)
		s.m.latency.observe(d)
	}
}

// partListed measures a part's latency: from the arrival of its last
// frame to now, when it is listed.
func (s *Stream) partListed(_ string, p hlsmux.PartInfo) {
	g := s.graph.Load()
	if g == nil || s.ending.Load() {
		return
	}
	end, ok := g.SourcePTS(p.EndPTS)
	if !ok {
		return
	}
	if at, ok := s.arrivals.lastBefore(end); ok {
		d := time.Since(at)
		s.partLatency.observe(d)
		s.m.partLatency.observe(d)
	}
}

// wallclock is when the frame at output pts arrived at ingest, for
// EXT-X-PROGRAM-DATE-TIME: ok is false for a picture no publisher sent
// (the slate's).
func (s *Stream) wallclock(pts int64) (time.Time, bool) {
	g := s.graph.Load()
	if g == nil {
		return time.Time{}, false
	}
	src, ok := g.SourcePTS(pts)
	if !ok {
		return time.Time{}, false
	}
	return s.arrivals.arrival(src)
}

func (s *Stream) started() bool { return s.graph.Load() != nil }

// write hands pkt of publish p to the pipeline and the relays, on the
// stream's time. It blocks while the pipeline's queue is full, and fails
// when the pipeline has stopped or p was detached (taken over).
func (s *Stream) write(p *Publish, pkt *media.Packet) error {
	if !s.started() {
		return errors.New("live: WritePacket before Start")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	select {
	case <-p.detached:
		return errTakenOver
	default:
	}
	// Decoders, relays and recordings all want DTS that increase.
	pkt = p.timeline.Fix(pkt)
	s.fixes.Add(p.timeline.Fixes() - p.seenFixes)
	s.jumps.Add(p.timeline.Jumps() - p.seenJumps)
	p.seenFixes, p.seenJumps = p.timeline.Fixes(), p.timeline.Jumps()
	pkt = p.place(pkt, s.lastDTS, s.awayAt, !s.wrote)
	s.wrote = true
	s.lastDTS = max(s.lastDTS, pkt.DTS)
	now := time.Now()
	s.firstPacketAt.CompareAndSwap(0, now.UnixNano())
	s.ingestBytes.Add(int64(len(pkt.Data)))
	// Segments end on video frames, or on audio ones when there is no
	// video. s.video is written before the graph is published.
	if pkt.Kind == media.Video || s.video == nil {
		s.arrivals.add(pkt.PTS, now)
	}
	s.relays.write(pkt)
	return s.send(pkt, p.detached)
}

// send queues pkt for the pipeline; s.writeMu is held. detached, when
// closed, gives up (nil: never).
func (s *Stream) send(pkt *media.Packet, detached <-chan struct{}) error {
	select {
	case s.packets <- pkt:
		return nil
	case <-detached:
		return errTakenOver
	case <-s.finished:
		if s.runErr != nil {
			return fmt.Errorf("transcoding stopped: %w", s.runErr)
		}
		return errors.New("transcoding stopped")
	}
}

// End ends the stream: the pipeline flushes its last frames, cuts the last
// segments and ends the playlists with EXT-X-ENDLIST, then the stream stays
// for the grace period. err is why the publish ended (nil: the publisher
// unpublished). End may be called once; later calls do nothing.
func (s *Stream) End(err error) {
	s.endOnce.Do(func() { s.end(err) })
}

func (s *Stream) end(reason error) {
	s.mu.Lock()
	s.closed = true
	if s.awayTimer != nil {
		s.awayTimer.Stop()
	}
	if s.pub != nil {
		s.pub.detach()
		s.pub.kick()
	}
	s.mu.Unlock()
	s.ending.Store(true)
	if s.started() {
		s.writeMu.Lock()
		close(s.packets)
		s.writeMu.Unlock()
		<-s.finished
	}
	// The playlists have their ENDLIST: the route is marked ended, and
	// origins serve the end until the grace passes.
	if s.route != nil {
		s.route.end()
	}
	// A new publish of the channel, on any server, starts a new stream
	// (unless this one moved: the server it moved to holds it).
	if s.adv != nil && !errors.Is(reason, ErrMoved) {
		s.adv.end()
	}
	// After the pipeline: the recording gets its last segments (before the
	// relays, which may wait for their destinations), and a re-encoding
	// relay the encoder's last frames.
	if s.rec != nil {
		s.rec.finish()
	}
	s.relays.stop()
	s.endedAt.Store(s.m.cfg.Now().UnixNano())
	s.cancel()
	attrs := []any{"duration", s.m.cfg.Now().Sub(s.begun).Round(time.Millisecond)}
	if g := s.graph.Load(); g != nil {
		st := g.Stats()
		if g.AudioOnly() {
			attrs = append(attrs, "audio_frames", st.Renditions[0].Encoded)
		} else {
			attrs = append(attrs, "frames", st.Decoded)
		}
		if st.Corrupt > 0 {
			attrs = append(attrs, "corrupt_packets", st.Corrupt)
		}
	}
	switch {
	case s.runErr != nil && !errors.Is(s.runErr, context.Canceled):
		s.log.Error("transcoding failed", append(attrs, "err", s.runErr)...)
	case reason != nil:
		s.log.Info("stream ended", append(attrs, "reason", reason)...)
	default:
		s.log.Info("stream ended", attrs...)
	}
	s.m.ended(s)
	close(s.endDone)
}

func (s *Stream) isEnded() bool { return s.endedAt.Load() != 0 }

// Info describes a stream for the admin API and metrics.
type Info struct {
	ChannelID  string     `json:"channel_id"`
	Name       string     `json:"name"`
	PlaybackID string     `json:"playback_id"`
	Live       bool       `json:"live"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// Publisher is "connected" while a publisher feeds the stream and
	// "away" while the stream waits on its slate for one (the reconnect
	// window), since AwaySince. Reconnects counts the publishes that
	// continued the stream after its first.
	Publisher  string     `json:"publisher,omitempty"`
	AwaySince  *time.Time `json:"away_since,omitempty"`
	Reconnects int64      `json:"reconnects"`
	// Video and Audio describe the published stream ("1280x720 30 fps h264").
	Video string `json:"video,omitempty"`
	Audio string `json:"audio,omitempty"`
	// FrameRate is the rate the ladder is encoded at ("30/1"), and
	// FrameRateSource where it was found: "metadata" (onMetaData),
	// "sps", "measured" (the first second's timestamps) or "default"
	// (30 fps, when nothing told).
	FrameRate       string `json:"frame_rate,omitempty"`
	FrameRateSource string `json:"frame_rate_source,omitempty"`
	// Timing is what the stream's clocks repaired and how far the ladder
	// is behind.
	Timing *Timing `json:"timing,omitempty"`
	// IngestBytes and IngestBitrate (bits/s, averaged since the first packet).
	IngestBytes   int64   `json:"ingest_bytes"`
	IngestBitrate float64 `json:"ingest_bitrate"`
	// DecodedFrames is the number of video frames decoded (0 for an
	// audio-only stream); CorruptPackets the packets the decoders rejected.
	DecodedFrames  int64           `json:"decoded_frames"`
	CorruptPackets int64           `json:"corrupt_packets"`
	Renditions     []RenditionInfo `json:"renditions"`
	// SegmentLatency: from the arrival of a segment's last frame over RTMP
	// to its listing in the playlist, over this stream's recent segments.
	SegmentLatency Latency `json:"segment_latency"`
	// PartLatency is the same for LL-HLS parts: from the arrival of a
	// part's last frame to its listing (empty for TS).
	PartLatency Latency `json:"part_latency"`
	// Relays are the destinations the stream is restreamed to.
	Relays []relay.Status `json:"relays,omitempty"`
	// Recording is the stream's recording session; nil when it is not
	// recorded.
	Recording *RecordingInfo `json:"recording,omitempty"`
}

// Timing is the health of a stream's timestamps and of its ladder's pace.
type Timing struct {
	// TimestampFixes counts packets whose DTS or PTS were repaired (a DTS
	// at or below the last, a PTS below the DTS); ClockJumps the times the
	// publisher's clock jumped and was closed up.
	TimestampFixes int64 `json:"timestamp_fixes"`
	ClockJumps     int64 `json:"clock_jumps"`
	// FramesDuplicated counts pictures repeated to fill holes in the
	// source's frames; FramesDropped pictures dropped, by reason:
	// "late" (their slot on the frame grid was taken) and "lag" (skipped
	// while the ladder was over its lag budget).
	FramesDuplicated int64            `json:"frames_duplicated"`
	FramesDropped    map[string]int64 `json:"frames_dropped"`
	// SlateFrames counts the pictures of the slate, shown while the
	// publisher was away.
	SlateFrames int64 `json:"slate_frames"`
	// EncodeLagSeconds is how far the slowest rendition is behind the
	// publisher now; LagBudgetSeconds the most it may be before pictures
	// are skipped; LagEpisodes the times it went over; Behind is true
	// while it is over (the stream's health is degraded).
	EncodeLagSeconds float64 `json:"encode_lag_seconds"`
	LagBudgetSeconds float64 `json:"lag_budget_seconds"`
	LagEpisodes      int64   `json:"lag_episodes"`
	Behind           bool    `json:"behind"`
}

// RenditionInfo is one rendition's progress.
type RenditionInfo struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// Frames encoded (AAC frames for the audio-only rendition) and
	// segments written. Width and Height are 0 for the audio-only one.
	Frames   int64 `json:"frames"`
	Segments int64 `json:"segments"`
	// FPS is the encode rate since the first packet.
	FPS float64 `json:"fps"`
	// LagSeconds is how far the encoder is behind the publisher: how late
	// the picture it has in hand is; 0 while it waits for one. A live
	// stream that keeps up stays well under a second.
	LagSeconds float64 `json:"lag_seconds"`
}

// Info returns the stream's description now.
func (s *Stream) Info() Info {
	in := Info{
		ChannelID: s.ch.ID, Name: s.ch.Name, PlaybackID: s.ch.PlaybackID,
		Live: !s.isEnded(), StartedAt: s.begun,
		IngestBytes: s.ingestBytes.Load(), SegmentLatency: s.latency.summary(), PartLatency: s.partLatency.summary(),
		Relays: s.relays.status(),
	}
	if e := s.endedAt.Load(); e != 0 {
		t := time.Unix(0, e)
		in.EndedAt = &t
	}
	in.Reconnects = s.reconnects.Load()
	if in.Live {
		in.Publisher = "connected"
		if a := s.awaySince.Load(); a != 0 {
			t := time.Unix(0, a)
			in.Publisher, in.AwaySince = "away", &t
		}
	}
	if c := s.current.Load(); c != nil {
		if v := c.Video; v != nil {
			in.Video = fmt.Sprintf("%dx%d %s fps %s", v.Width, v.Height, v.FrameRate, v.Codec)
		}
		if a := c.Audio; a != nil {
			in.Audio = fmt.Sprintf("%s %d Hz %d ch", a.Codec, a.SampleRate, a.Channels)
		}
	}
	first := s.firstPacketAt.Load()
	var elapsed float64
	if first != 0 {
		end := time.Now()
		if e := s.endedAt.Load(); e != 0 {
			end = time.Unix(0, e)
		}
		elapsed = end.Sub(time.Unix(0, first)).Seconds()
	}
	if elapsed > 0 {
		in.IngestBitrate = float64(in.IngestBytes) * 8 / elapsed
	}
	g := s.graph.Load()
	if g == nil {
		return in
	}
	if s.rec != nil {
		in.Recording = s.rec.info()
	}
	st := g.Stats()
	in.DecodedFrames, in.CorruptPackets = st.Decoded, st.Corrupt
	lag, lags := g.EncodeLag()
	if !g.AudioOnly() {
		in.FrameRate, in.FrameRateSource = g.FrameRate().String(), g.FrameRateSource()
	}
	in.Timing = &Timing{
		TimestampFixes: s.fixes.Load(), ClockJumps: s.jumps.Load(),
		FramesDuplicated: st.Duplicated, SlateFrames: st.Slate,
		FramesDropped:    map[string]int64{"late": st.DroppedLate, "lag": st.DroppedLag},
		EncodeLagSeconds: lag.Seconds(), LagBudgetSeconds: g.LagBudget().Seconds(),
		LagEpisodes: st.LagEpisodes, Behind: g.Behind(),
	}
	for _, r := range st.Renditions {
		ri := RenditionInfo{Name: r.Name, Width: r.Width, Height: r.Height, Frames: r.Encoded, Segments: r.Segments}
		if elapsed > 0 {
			ri.FPS = float64(r.Encoded) / elapsed
		}
		if i := len(in.Renditions); in.Live && i < len(lags) {
			ri.LagSeconds = lags[i].Seconds()
		}
		in.Renditions = append(in.Renditions, ri)
	}
	return in
}

// teeStore writes to memory, which the origin serves, and mirrors to a
// directory. A failing mirror is logged, never fatal: viewers are served
// from memory.
type teeStore struct {
	mem    *hlsmux.MemoryStore
	dir    *hlsmux.DirStore
	log    *slog.Logger
	failed atomic.Int64
}

func (t *teeStore) Put(name string, data []byte) error {
	if err := t.mem.Put(name, data); err != nil {
		return err
	}
	if err := t.dir.Put(name, data); err != nil && t.failed.Add(1)%100 == 1 {
		t.log.Warn("HLS mirror write failed", "file", name, "err", err, "failures", t.failed.Load())
	}
	return nil
}

func (t *teeStore) Get(name string) ([]byte, error) { return t.mem.Get(name) }

func (t *teeStore) Delete(name string) error {
	if err := t.dir.Delete(name); err != nil {
		t.log.Warn("HLS mirror delete failed", "file", name, "err", err)
	}
	return t.mem.Delete(name)
}
