package ingest

import (
	"context"
	"net/url"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
)

// Authenticator resolves a stream key to its channel. registry.Store
// implements it.
type Authenticator interface {
	// Authenticate returns the channel whose current stream key is key:
	// registry.ErrUnknownKey or registry.ErrMalformedKey refuse the
	// publish as unauthorized (and count against the address's
	// AuthFailures); any other error refuses it as a failure of ours.
	Authenticate(ctx context.Context, key string) (registry.Channel, error)
}

var _ Authenticator = registry.Store(nil)

// Handler receives authenticated publishes. The live package implements it.
type Handler interface {
	// Publish is called after the key is authenticated, before the
	// publisher is told it may send. An error refuses the publish (e.g.
	// ErrAlreadyLive from live); its text is logged and sent as the RTMP
	// status description, so it must not contain the key.
	//
	// ctx is the connection's: it is cancelled when the connection closes
	// or is being closed (Shutdown, Done, idle timeout), so that a Sink
	// blocked in WritePacket can return.
	Publish(ctx context.Context, ch registry.Channel, info PublishInfo) (Sink, error)
}

// PublishInfo is what Handler.Publish learns about a publish besides its
// channel.
type PublishInfo struct {
	// RemoteAddr is the publisher's address, "IP:port".
	RemoteAddr string
	// Query is the publish URL's query (relay parameters such as
	// twitch=…), with the key removed. Its values are secrets too (other
	// platforms' stream keys): ingest never logs them.
	Query url.Values
}

// Sink receives one publish's stream. Ingest calls Start, WritePacket and
// End from the connection's goroutine, in that order, never concurrently.
type Sink interface {
	// Start is called once, when the stream's codecs are known and before
	// the first WritePacket. video or audio may be nil (audio-only or
	// video-only stream). The params are the Sink's to keep.
	Start(video *media.VideoParams, audio *media.AudioParams) error
	// WritePacket receives each packet in arrival order, timestamps in
	// media.ClockRate ticks, unwrapped (monotonic across RTMP's 32-bit ms
	// wrap), audio and video on one time base. The first video packet is a
	// keyframe. The packet is the Sink's and nobody changes it. It may
	// block (backpressure reaches the publisher through TCP). An error
	// ends the publish.
	WritePacket(p *media.Packet) error
	// Done is closed when the publish must end (key revoked, server
	// shutting down): ingest then closes the connection.
	Done() <-chan struct{}
	// End is called exactly once when the publish ends, even if Start was
	// not: nil for a clean unpublish or close by the publisher, else why
	// (ErrSinkDone, ErrServerClosed, ErrIdleTimeout, ErrUnsupportedCodec,
	// the error WritePacket returned, …).
	End(err error)
}
