package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
)

// PublishRequest is a publish that comes by another protocol than RTMP
// (SRT, ingest/srt), for AcceptPublish: it gets the same key check,
// slowdown of failed keys, counters (Stats), Handler and start-up of its
// Sink as an RTMP publish.
type PublishRequest struct {
	// RemoteAddr is the publisher's address, "IP:port".
	RemoteAddr string
	// Key is the stream key the publisher sent. It is never logged.
	Key string
	// Query holds the relay parameters that came with the key (twitch=…):
	// secrets too, never logged.
	Query url.Values
	// Log is the connection's logger.
	Log *slog.Logger
}

// AcceptPublish authenticates a.Key and asks the Handler for a Sink. ctx
// is the connection's: cancel it when the connection closes, so that a Sink
// blocked in WritePacket returns. A wrong key's refusal waits the delay
// Config.AuthFailures sets for its address, as over RTMP. It fails with
// ErrServerClosed, ErrUnauthorized, ErrRefused (the Handler's refusal) or
// the Authenticator's failure; the error's text holds no secret. The
// caller must End the Publish it returns, exactly once.
func (s *Server) AcceptPublish(ctx context.Context, a PublishRequest) (*Publish, error) {
	if s.isClosing() {
		return nil, ErrServerClosed
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(a.RemoteAddr); err == nil {
		addr = ap.Addr()
	}
	var sec secrets
	sec.add(a.Key + "?" + a.Query.Encode())
	log := a.Log
	if log == nil {
		log = s.log
	}
	ch, err := s.authenticate(ctx, addr, streamKey(a.Key), log, sec.redact)
	if err != nil {
		return nil, err
	}
	log = log.With("channel", ch.ID)
	sink, err := s.cfg.Handler.Publish(ctx, ch, PublishInfo{RemoteAddr: a.RemoteAddr, Query: a.Query})
	if err != nil {
		desc := sec.redact(err.Error())
		log.Warn("publish refused by handler", "err", desc)
		s.counters.handler.Add(1)
		return nil, fmt.Errorf("%s: %w", desc, ErrRefused)
	}
	now := time.Now()
	p := &Publish{srv: s, ch: ch, log: log, at: now, redact: sec.redact}
	p.pub = newPublish(sink, log, s.cfg.StartTimeout, now, &s.counters.dropped)
	p.pub.tracks = &p.tracks
	s.counters.publishing.Add(1)
	log.Info("publish accepted", "playback_id", ch.PlaybackID)
	return p, nil
}

// Publish is a publish admitted by AcceptPublish: its protocol declares the
// tracks and their parameters and writes packets (timestamps in
// media.ClockRate ticks, audio and video on one time base, H.264 in the
// form its VideoParams name); Publish holds them until the codecs are
// known, then starts the Sink, exactly as for RTMP. Its methods are called
// from the connection's goroutine.
type Publish struct {
	srv    *Server
	ch     registry.Channel
	log    *slog.Logger
	at     time.Time
	redact func(string) string
	pub    *publish
	tracks declaredTracks
	ended  bool
}

// declaredTracks is a Publish's trackSource.
type declaredTracks struct {
	seen, hasVideo, hasAudio bool
	video                    *media.VideoParams
	audio                    *media.AudioParams
}

func (t *declaredTracks) videoParams() *media.VideoParams {
	if t.video == nil {
		return nil
	}
	v := *t.video
	return &v
}

func (t *declaredTracks) audioParams() *media.AudioParams {
	if t.audio == nil {
		return nil
	}
	a := *t.audio
	return &a
}

func (t *declaredTracks) announced() (seen, video, audio bool) {
	return t.seen, t.hasVideo, t.hasAudio
}

// Channel is the channel the key resolved to.
func (p *Publish) Channel() registry.Channel { return p.ch }

// Log is the publish's logger (the connection's, with the channel).
func (p *Publish) Log() *slog.Logger { return p.log }

// Announce says which tracks the stream has (an MPEG-TS PMT): the Sink
// then waits up to Config.StartTimeout for each one's parameters.
func (p *Publish) Announce(video, audio bool) {
	p.tracks.seen, p.tracks.hasVideo, p.tracks.hasAudio = true, video, audio
}

// SetVideo sets the video track's parameters. New ones once the Sink has
// started with video end the publish (ErrParamsChanged): the ladder cannot
// follow a new codec or size. Before that they replace the old.
func (p *Publish) SetVideo(v media.VideoParams) error {
	changed := p.tracks.video != nil
	p.tracks.video = &v
	if !changed {
		return nil
	}
	return p.pub.tagError(fmt.Errorf("new %s video parameters (%dx%d): %w", v.Codec, v.Width, v.Height, ErrParamsChanged), p.pub.video)
}

// SetAudio sets the audio track's parameters, as SetVideo.
func (p *Publish) SetAudio(a media.AudioParams) error {
	changed := p.tracks.audio != nil
	p.tracks.audio = &a
	if !changed {
		return nil
	}
	return p.pub.tagError(fmt.Errorf("new %s audio parameters (%d Hz, %d channels): %w", a.Codec, a.SampleRate, a.Channels, ErrParamsChanged), p.pub.audio)
}

// HasVideo and HasAudio report whether the track's parameters are set.
func (p *Publish) HasVideo() bool { return p.tracks.video != nil }
func (p *Publish) HasAudio() bool { return p.tracks.audio != nil }

// WritePacket passes a packet on to the Sink, or holds it until the Sink
// starts. Video before the first keyframe is dropped. An error ends the
// publish.
func (p *Publish) WritePacket(pkt *media.Packet) error { return p.pub.push(pkt) }

// Skip counts a unit of the stream that could not be used (corrupt, or
// before its parameters) and logs it now and then; the stream goes on.
func (p *Publish) Skip(err error) {
	s := p.pub
	s.stats.skipped++
	if now := time.Now(); now.Sub(s.lastLog) >= skipLogInterval {
		s.lastLog = now
		s.log.Warn("skipped malformed media", "err", err, "skipped", s.stats.skipped)
	}
}

// CheckStart fails with ErrNoCodecHeaders once the Sink has waited
// Config.StartTimeout without starting: call it as time passes, since a
// stream of nothing usable never reaches the Sink to find out.
func (p *Publish) CheckStart(now time.Time) error {
	if p.pub.isStarted() || now.Sub(p.at) < p.srv.cfg.StartTimeout+startGrace {
		return nil
	}
	if err := p.pub.maybeStart(now); err != nil || p.pub.isStarted() {
		return err
	}
	p.pub.abandon()
	return p.pub.noHeaders()
}

// Done is the Sink's: closed when the publish must end (key revoked,
// another publish took the stream, the server shuts down).
func (p *Publish) Done() <-chan struct{} { return p.pub.sink.Done() }

// End ends the publish, once: the Sink gets reason (nil for a clean end,
// ErrDisconnected for a lost publisher, …) and the publish is logged with
// its counts.
func (p *Publish) End(reason error) {
	if p.ended {
		return
	}
	p.ended = true
	p.srv.counters.publishing.Add(-1)
	p.pub.end(reason)
	p.pub.logEnded(p.at, reason, p.redact)
}
