package live

import (
	"fmt"
	"time"

	"github.com/livestream/livestream/media"
)

// The publishes of a stream: one feeds it at a time; when it drops, the
// stream waits on its slate for the reconnect window; the next publish of
// the channel continues it, and one that arrives while a publisher is
// still connected takes it over.

// attach makes p the stream's publish: the publisher that came back
// within the window, or one taking over from a connected publisher (which
// is disconnected). It reports false when the stream is ending and takes
// no publish.
func (s *Stream) attach(p *Publish) bool {
	s.mu.Lock()
	if s.closed || s.stopping {
		s.mu.Unlock()
		return false
	}
	old := s.pub
	s.pub = p
	if s.awayTimer != nil {
		s.awayTimer.Stop()
		s.awayTimer = nil
	}
	if old != nil {
		old.detach() // its WritePacket gives up, so writeMu is free soon
		old.kick()
	}
	s.mu.Unlock()
	s.remote.Store(&p.remote)
	if old != nil {
		s.log.Warn("publisher taken over by a new publish of the channel: the old connection is closed",
			"old", old.remote, "new", p.remote)
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		if s.wrote {
			// The old publisher's last packet is the end of its time.
			s.awayAt = time.Now()
			if err := s.send(&media.Packet{Kind: media.Break}, nil); err != nil {
				s.log.Warn("taking over", "err", err)
			}
		}
	}
	return true
}

// attachCodecs starts the stream with the first publish's codecs, or
// continues it with a later one's: the ladder gets new decoders, the
// relays new sequence headers, and the packets follow on the stream's
// time.
func (s *Stream) attachCodecs(p *Publish, video *media.VideoParams, audio *media.AudioParams) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	current := s.pub == p
	s.mu.Unlock()
	if !current {
		return errTakenOver
	}
	s.current.Store(&media.Params{Video: video, Audio: audio})
	if !s.started() {
		p.takesVideo, p.takesAudio = video != nil, audio != nil
		return s.start(video, audio)
	}
	g := s.graph.Load()
	p.takesVideo = video != nil && !g.AudioOnly() && s.video != nil
	p.takesAudio = audio != nil && s.audio != nil
	next := &media.Params{}
	if p.takesVideo {
		next.Video = video
	}
	if p.takesAudio {
		next.Audio = audio
	}
	brk := &media.Packet{Kind: media.Break, Params: next}
	s.relays.write(brk)
	if err := s.send(brk, p.detached); err != nil {
		return err
	}
	n := s.reconnects.Add(1)
	s.awaySince.Store(0)
	attrs := []any{"reconnects", n, "away", time.Since(s.awayAt).Round(time.Millisecond)}
	if video != nil {
		attrs = append(attrs, "video", fmt.Sprintf("%dx%d %s fps", video.Width, video.Height, video.FrameRate))
	}
	if video != nil && !p.takesVideo {
		s.log.Warn("the new publish's video is left out: the stream has none")
	}
	if audio != nil && !p.takesAudio {
		s.log.Warn("the new publish's audio is left out: the stream has none")
	}
	s.log.Info("publisher back: the stream continues", attrs...)
	return nil
}

// publishEnded is p's End. A clean unpublish ends the stream, unless the
// channel keeps it (Settings.KeepOnUnpublish); a dropped publisher, or a
// kept one, leaves it on its slate for the reconnect window; a publish
// that was taken over changes nothing.
func (s *Stream) publishEnded(p *Publish, reason error) {
	s.writeMu.Lock()
	s.mu.Lock()
	if s.pub != p {
		s.mu.Unlock()
		s.writeMu.Unlock()
		return
	}
	s.pub = nil
	unpublishEnds := reason == nil && !s.ch.Settings.KeepOnUnpublish
	endNow := unpublishEnds || s.window <= 0 || s.stopping || s.closed || !s.started() || !s.wrote
	if !endNow {
		s.awayAt = time.Now()
		s.awaySince.Store(s.awayAt.UnixNano())
		s.awayTimer = time.AfterFunc(s.window, s.windowClosed)
	}
	s.mu.Unlock()
	if endNow {
		s.writeMu.Unlock()
		s.End(reason)
		return
	}
	err := s.send(&media.Packet{Kind: media.Break}, nil)
	s.writeMu.Unlock()
	if err != nil {
		s.End(err)
		return
	}
	if reason == nil {
		s.log.Info("publisher stopped; the channel keeps its stream live on a slate until it comes back", "reconnect_window", s.window)
		return
	}
	s.log.Warn("publisher dropped: the stream stays live on a slate until it comes back",
		"reason", reason, "reconnect_window", s.window)
}

// windowClosed ends the stream when its publisher did not come back.
func (s *Stream) windowClosed() {
	s.mu.Lock()
	away := s.pub == nil && !s.closed
	s.mu.Unlock()
	if away {
		s.End(errWindowClosed)
	}
}

// handOff disconnects the publisher, asking it to publish again (on
// another server: this one drains), and leaves the stream on its slate for
// the reconnect window.
func (s *Stream) handOff() {
	s.mu.Lock()
	p := s.pub
	s.mu.Unlock()
	if p == nil {
		return
	}
	s.log.Info("draining: the publisher is asked to publish again, on another server")
	p.reconnect.Store(true)
	p.kick()
}

// stop ends the stream for good: its publisher is disconnected (and its
// End ends the stream), or, when it is away, the stream ends now. No
// publish attaches any more. reason says why, for the log.
func (s *Stream) stop(reason error) {
	s.mu.Lock()
	s.stopping = true
	p := s.pub
	away := p == nil && !s.closed && s.awayTimer != nil
	s.mu.Unlock()
	if p != nil {
		p.kick()
	}
	if away {
		go s.End(reason)
	}
}
