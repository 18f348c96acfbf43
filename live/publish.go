package live

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
)

// Publish is one publisher's connection to a stream (ingest's Sink). A
// stream outlives its publishes: when a publisher drops (a connection lost
// or timed out, not a clean unpublish), the stream shows a slate for the
// reconnect window, and the next publish of the channel continues the same
// stream: same encoders, segment numbers, recording session and relay
// connections. A publish of a channel whose publisher is still connected
// takes the stream over at once (a half-open connection must not hold a
// creator out for the idle timeout): the old connection is closed.
type Publish struct {
	s      *Stream
	remote string
	at     time.Time

	kicked   chan struct{} // Done: ingest closes the connection
	kickOnce sync.Once
	endOnce  sync.Once
	// detached is closed when the stream stops taking this publish's
	// packets: another publish took over, or the stream is ending.
	detached   chan struct{}
	detachOnce sync.Once
	// reconnect: the publisher is disconnected to publish again elsewhere
	// (the server drains), and is asked to (E-RTMP's reconnect request).
	reconnect atomic.Bool

	// The fields below are WritePacket's goroutine's alone.
	// timeline repairs this publisher's timestamps; offset then places
	// them on the stream's time, after the slate (placed: it is known).
	timeline   media.Timeline
	offset     int64
	placed     bool
	seenFixes  int64
	seenJumps  int64
	takesVideo bool
	takesAudio bool
}

var (
	// errTakenOver ends a publish whose stream a newer publish of the
	// channel took over.
	errTakenOver = errors.New("another publish of the channel took the stream over")
	// errWindowClosed ends a stream whose publisher did not come back
	// within the reconnect window.
	errWindowClosed = errors.New("the publisher did not come back within the reconnect window")
)

func newPublish(s *Stream, remote string, at time.Time) *Publish {
	return &Publish{s: s, remote: remote, at: at, kicked: make(chan struct{}), detached: make(chan struct{})}
}

// Channel is the channel this publish is of.
func (p *Publish) Channel() registry.Channel { return p.s.ch }

// Stream is the stream this publish feeds.
func (p *Publish) Stream() *Stream { return p.s }

// Start is called once, when the publish's codecs are known. The first
// publish of a stream builds its ladder; a later one continues it: its
// packets follow the slate on the stream's time, with new decoders.
func (p *Publish) Start(video *media.VideoParams, audio *media.AudioParams) error {
	return p.s.attachCodecs(p, video, audio)
}

// WritePacket hands pkt to the stream. It blocks while the pipeline's
// queue is full, and fails when the pipeline has stopped or the stream no
// longer takes this publish.
func (p *Publish) WritePacket(pkt *media.Packet) error {
	if (pkt.Kind == media.Video && !p.takesVideo) || (pkt.Kind == media.Audio && !p.takesAudio) {
		return nil // a track the stream's ladder was not built with
	}
	return p.s.write(p, pkt)
}

// Done is closed when the publisher must be disconnected: its key was
// rotated or revoked, another publish took the stream over, or the server
// is shutting down.
func (p *Publish) Done() <-chan struct{} { return p.kicked }

// End ends the publish. A clean unpublish (err nil) ends the stream: its
// playlists get EXT-X-ENDLIST, unless the channel keeps its streams
// through a clean unpublish too (registry.ChannelSettings.KeepOnUnpublish). A dropped connection (any other err) leaves
// the stream on its slate for the reconnect window, when there is one.
// Later calls do nothing.
func (p *Publish) End(err error) {
	p.endOnce.Do(func() { p.s.publishEnded(p, err) })
}

// Reconnect reports, once Done is closed, whether the publisher is to
// publish again (to another server: this one is draining) rather than
// stop: ingest asks it to, with Enhanced RTMP's reconnect request.
func (p *Publish) Reconnect() bool { return p.reconnect.Load() }

func (p *Publish) kick()   { p.kickOnce.Do(func() { close(p.kicked) }) }
func (p *Publish) detach() { p.detachOnce.Do(func() { close(p.detached) }) }

// place moves pkt, already repaired, onto the stream's time: the first
// packet of a publish after the first goes where the stream's clock is
// (after the last packet, by the time the stream was away).
func (p *Publish) place(pkt *media.Packet, last int64, away time.Time, first bool) *media.Packet {
	if !p.placed {
		p.placed = true
		if !first {
			at := last + max(media.Ticks(time.Since(away)), 1)
			p.offset = at - pkt.DTS
		}
	}
	if p.offset == 0 {
		return pkt
	}
	q := *pkt
	q.DTS += p.offset
	q.PTS += p.offset
	return &q
}

// String names the publish in logs: its address.
func (p *Publish) String() string { return fmt.Sprintf("publish from %s", p.remote) }

// sameDestinations reports whether a and b name the same relays.
func sameDestinations(a, b []destination) bool {
	return slices.EqualFunc(a, b, func(x, y destination) bool {
		return x.id == y.id && x.kind == y.kind && x.key == y.key && x.base == y.base && maps.EqualFunc(x.params, y.params, slices.Equal)
	})
}
