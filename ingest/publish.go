package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
)

// Bounds on the packets held before the Sink starts.
const (
	// headerWait is how much media (in stream time) we hold, when the
	// publisher sent no onMetaData, waiting for the other track's header
	// once one track has started: encoders send both headers before their
	// first frames, so a second is plenty.
	headerWait = time.Second
	// rateWait is how much video we hold, when the publisher declares no
	// plausible frame rate, to measure it from the timestamps (a second is
	// 24 to 60 steps; the ladder's encoders need the rate to open).
	rateWait = time.Second
	// maxPendingBytes and maxPendingPackets bound what is held before
	// Start (several seconds of a high-bitrate stream): past them the Sink
	// starts with the tracks there are.
	maxPendingBytes   = 16 << 20
	maxPendingPackets = 4096
	// skipLogInterval spaces the log lines about skipped tags: a broken
	// encoder may send nothing else.
	skipLogInterval = 10 * time.Second
)

type publishState int

const (
	waiting   publishState = iota // for codec headers
	started                       // the Sink has started
	abandoned                     // the start timer gave up
)

// publish is one publish between the FLV tags and its Sink: it holds the
// first packets until the codecs are known, then starts the Sink and
// passes every packet on. Its methods are called from the connection's
// goroutine, except abandon (the start timer).
type publish struct {
	sink         Sink
	log          *slog.Logger
	startTimeout time.Duration
	begun        time.Time
	dec          tagDecoder // RTMP's: FLV tags → packets and parameters
	// tracks says what the stream's codecs are: &dec for RTMP, a
	// Publish's declared tracks for another protocol (publish_accept.go).
	tracks trackSource

	mu    sync.Mutex
	state publishState

	pending      []*media.Packet
	pendingBytes int
	keyframeSeen bool
	video, audio bool // the tracks the Sink was started with

	stats   publishStats
	lastLog time.Time
	ended   bool
	// drops is the server's running count of dropped packets (nil in
	// tests): metrics see drops as they happen, not when the publish ends.
	drops *atomic.Int64
}

// publishStats are logged when the publish ends.
type publishStats struct {
	video, audio int64 // packets written
	bytes        int64
	skipped      int64 // malformed tags, frames before their header
	dropped      int64 // video before the first keyframe, tracks not started
	blocked      time.Duration
}

// trackSource is what a publish learns of its tracks before it starts the
// Sink.
type trackSource interface {
	// videoParams and audioParams are the tracks' parameters, nil while
	// unknown; each call returns a copy.
	videoParams() *media.VideoParams
	audioParams() *media.AudioParams
	// announced says whether the publisher declared its tracks (RTMP's
	// onMetaData, an MPEG-TS PMT) and which.
	announced() (seen, video, audio bool)
}

var _ trackSource = (*tagDecoder)(nil)

func newPublish(sink Sink, log *slog.Logger, startTimeout time.Duration, now time.Time, drops *atomic.Int64) *publish {
	p := &publish{sink: sink, log: log, startTimeout: startTimeout, begun: now, drops: drops}
	p.tracks = &p.dec
	return p
}

// drop counts a packet dropped.
func (p *publish) drop() {
	p.stats.dropped++
	if p.drops != nil {
		p.drops.Add(1)
	}
}

// videoTag handles the body of a video message.
func (p *publish) videoTag(ts uint32, body []byte) error {
	pkt, err := p.dec.videoTag(ts, body)
	if err := p.tagError(err, p.video); err != nil {
		return err
	}
	return p.push(pkt)
}

// audioTag handles the body of an audio message.
func (p *publish) audioTag(ts uint32, body []byte) error {
	pkt, err := p.dec.audioTag(ts, body)
	if err := p.tagError(err, p.audio); err != nil {
		return err
	}
	return p.push(pkt)
}

// scriptTag handles an @setDataFrame payload.
func (p *publish) scriptTag(payload []byte) error {
	return p.tagError(p.dec.scriptTag(payload), false)
}

// tagError sorts a tag's error: an unsupported codec, or new parameters for
// a track the Sink has started, end the publish; anything else costs only
// the tag. trackStarted says whether the tag's track went to Start.
func (p *publish) tagError(err error, trackStarted bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnsupportedCodec):
		return err
	case errors.Is(err, ErrParamsChanged):
		if trackStarted {
			return err
		}
		return nil // before Start the new header simply replaces the old
	}
	p.stats.skipped++
	if now := time.Now(); now.Sub(p.lastLog) >= skipLogInterval {
		p.lastLog = now
		p.log.Warn("skipped FLV tag", "err", err, "skipped", p.stats.skipped)
	}
	return nil
}

// push passes a packet on, or holds it until Start. A nil packet (the tag
// was a header) may still complete the codecs.
func (p *publish) push(pkt *media.Packet) error {
	if pkt != nil && pkt.Kind == media.Video && !p.keyframeSeen {
		if !pkt.Keyframe {
			p.drop() // undecodable until the first keyframe
			return nil
		}
		p.keyframeSeen = true
	}
	if p.isStarted() {
		if pkt == nil {
			return nil
		}
		return p.write(pkt)
	}
	if pkt != nil {
		p.pending = append(p.pending, pkt)
		p.pendingBytes += len(pkt.Data)
	}
	return p.maybeStart(time.Now())
}

func (p *publish) isStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == started
}

// maybeStart starts the Sink once ready says so, then writes what was held.
func (p *publish) maybeStart(now time.Time) error {
	ready, err := p.ready(now)
	if err != nil || !ready {
		return err
	}
	p.mu.Lock()
	if p.state == abandoned {
		p.mu.Unlock()
		return p.noHeaders()
	}
	p.state = started
	p.mu.Unlock()

	v, a := p.tracks.videoParams(), p.tracks.audioParams()
	if v != nil && v.FrameRateSource == "" {
		if r := media.EstimateFrameRate(p.pendingVideoDTS()); r.Valid() {
			v.FrameRate, v.FrameRateSource = r, media.FrameRateMeasured
		}
	}
	p.video, p.audio = v != nil, a != nil
	attrs := []any{"video", v != nil, "audio", a != nil}
	if v != nil {
		attrs = append(attrs, "video_codec", v.Codec, "width", v.Width, "height", v.Height, "frame_rate", v.FrameRate.String(), "frame_rate_source", v.FrameRateSource)
	}
	if a != nil {
		attrs = append(attrs, "audio_codec", a.Codec, "sample_rate", a.SampleRate, "channels", a.Channels)
	}
	if seen, hasV, hasA := p.tracks.announced(); seen && ((hasV && v == nil) || (hasA && a == nil)) {
		p.log.Warn("the publisher announced a track that sent no codec header: starting without it",
			"video_announced", hasV, "video", v != nil, "audio_announced", hasA, "audio", a != nil)
	}
	if err := p.sink.Start(v, a); err != nil {
		return fmt.Errorf("start sink: %w", err)
	}
	p.log.Info("stream started", attrs...)
	held := p.pending
	p.pending, p.pendingBytes = nil, 0
	for _, pkt := range held {
		if err := p.write(pkt); err != nil {
			return err
		}
	}
	return nil
}

// ready reports whether the Sink can start: every track has its
// parameters, or is known not to come (onMetaData left its codec id out),
// or has been waited for long enough (headerWait of media without
// onMetaData, StartTimeout when onMetaData announced it). With no track at
// all after StartTimeout the publish fails.
func (p *publish) ready(now time.Time) (bool, error) {
	vp := p.tracks.videoParams()
	v, a := vp != nil, p.tracks.audioParams() != nil
	late := now.Sub(p.begun) >= p.startTimeout
	if !v && !a {
		if late {
			return false, p.noHeaders()
		}
		return false, nil
	}
	seen, hasV, hasA := p.tracks.announced()
	full := late || p.pendingBytes >= maxPendingBytes || len(p.pending) >= maxPendingPackets
	missing := (!v && (!seen || hasV)) || (!a && (!seen || hasA))
	if full {
		return true, nil
	}
	if !missing {
		// A video track without a plausible declared rate starts once a
		// second of it has come to measure the rate from.
		if v && vp.FrameRateSource == "" {
			dts := p.pendingVideoDTS()
			return len(dts) > 0 && dts[len(dts)-1]-dts[0] >= media.Ticks(rateWait), nil
		}
		return true, nil
	}
	wait := headerWait
	if seen {
		wait = p.startTimeout
	}
	return p.pendingSpan() >= media.Ticks(wait), nil
}

// pendingVideoDTS lists the DTS of the video packets held.
func (p *publish) pendingVideoDTS() []int64 {
	var dts []int64
	for _, pkt := range p.pending {
		if pkt.Kind == media.Video {
			dts = append(dts, pkt.DTS)
		}
	}
	return dts
}

// pendingSpan is the stream time the held packets cover.
func (p *publish) pendingSpan() int64 {
	if len(p.pending) == 0 {
		return 0
	}
	lo, hi := p.pending[0].DTS, p.pending[0].DTS
	for _, pkt := range p.pending[1:] {
		lo, hi = min(lo, pkt.DTS), max(hi, pkt.DTS)
	}
	return hi - lo
}

func (p *publish) noHeaders() error {
	return fmt.Errorf("no H.264, HEVC, AAC or MP3 codec header within %v: %w", p.startTimeout, ErrNoCodecHeaders)
}

// abandon is the start timer's: it reports whether the publish was still
// waiting for its headers, and makes sure it never starts if so.
func (p *publish) abandon() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != waiting {
		return false
	}
	p.state = abandoned
	return true
}

// write hands a packet of a started publish to the Sink. Packets of a
// track the Sink was not started with are dropped.
func (p *publish) write(pkt *media.Packet) error {
	if (pkt.Kind == media.Video && !p.video) || (pkt.Kind == media.Audio && !p.audio) {
		p.drop()
		return nil
	}
	t := time.Now()
	err := p.sink.WritePacket(pkt)
	p.stats.blocked += time.Since(t)
	if err != nil {
		return fmt.Errorf("write %s packet to sink: %w", pkt.Kind, err)
	}
	if pkt.Kind == media.Video {
		p.stats.video++
	} else {
		p.stats.audio++
	}
	p.stats.bytes += int64(len(pkt.Data))
	return nil
}

// end ends the Sink, once.
func (p *publish) end(reason error) {
	if p.ended {
		return
	}
	p.ended = true
	p.pending = nil
	p.sink.End(reason)
}

// logEnded logs the end of a publish that began at since, with its counts
// and why it ended (redacted).
func (p *publish) logEnded(since time.Time, reason error, redact func(string) string) {
	s := p.stats
	attrs := []any{"duration", time.Since(since).Round(time.Millisecond),
		"video_packets", s.video, "audio_packets", s.audio, "bytes", s.bytes,
		"skipped_tags", s.skipped, "dropped_packets", s.dropped, "blocked", s.blocked.Round(time.Millisecond)}
	level := slog.LevelInfo
	if reason != nil {
		attrs = append(attrs, "err", redact(reason.Error()))
		if !errors.Is(reason, ErrSinkDone) && !errors.Is(reason, ErrServerClosed) && !errors.Is(reason, ErrDisconnected) {
			level = slog.LevelWarn // the publisher's or the stream's trouble, not ours to end
		}
	}
	p.log.Log(context.Background(), level, "publish ended", attrs...)
}
