// Package registry holds channels and their stream keys: who may publish,
// under which public playback id viewers watch, and where their streams are
// relayed.
//
// A channel has a secret stream key, used only to publish and stored only
// as its SHA-256 hash, and a public playback id used in every viewer URL,
// playlist and recording path. Nothing in this package logs, formats or
// returns a stream key except the call that creates or rotates it.
//
// A channel also has relay destinations (Destination), whose keys are
// secrets of other platforms. The server needs them in full to relay, so
// they are stored as they are, in a file only its owner may read, and only
// the Store's destination methods return them whole: the admin API, the
// Client, every error and every log line show them redacted or not at all.
//
// FileStore is the Store of a single machine (`livestream serve`): one JSON
// file that the `livestream keys` CLI may edit while the server runs.
// RedisStore is the Store of a cluster, shared through Redis by every
// server, proxy and origin; it also holds the cluster's live routes (which
// server streams which playback id) and the servers' heartbeats.
// AdminHandler serves the admin API over any Store, and Client calls it.
// Stream keys are "sk_" and 32 lowercase base32 characters (160 random
// bits), playback ids 16 characters of [a-z0-9], channel ids "ch_" and 12,
// destination ids "ds_" and 8.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Channel is one publisher's identity. It never holds the stream key.
type Channel struct {
	ID         string    `json:"channel_id"`
	Name       string    `json:"name"`
	PlaybackID string    `json:"playback_id"`
	CreatedAt  time.Time `json:"created_at"`
	// KeyRotatedAt is when the current stream key was issued.
	KeyRotatedAt time.Time `json:"key_rotated_at"`
	// Settings are the channel's own choices for its streams; those it
	// does not set are the server's. Left out of the JSON when it has
	// none, so that a channel without settings is stored as before they
	// existed.
	Settings ChannelSettings `json:"settings,omitzero"`
}

// Store keeps channels. Implementations are safe for concurrent use.
type Store interface {
	// Create makes a channel named name and returns it with its new stream
	// key; the key is not stored, only its hash.
	Create(ctx context.Context, name string) (Channel, string, error)
	// List returns every channel, oldest first.
	List(ctx context.Context) ([]Channel, error)
	// Get returns the channel with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Channel, error)
	// ByPlaybackID returns the channel with playback id pid, or ErrNotFound.
	ByPlaybackID(ctx context.Context, pid string) (Channel, error)
	// Rotate issues a new stream key for channel id; the old one stops
	// working at once. It notifies subscribers.
	Rotate(ctx context.Context, id string) (Channel, string, error)
	// Revoke deletes channel id and its key. It notifies subscribers.
	Revoke(ctx context.Context, id string) error
	// UpdateSettings applies u to channel id's settings, validates the
	// result (an error wrapping ErrInvalidSettings) and stores it; it
	// returns the channel with its settings and notifies subscribers
	// (SettingsChanged) if anything changed. ErrNotFound for an unknown
	// channel.
	UpdateSettings(ctx context.Context, id string, u SettingsUpdate) (Channel, error)
	// Authenticate returns the channel whose current stream key is key,
	// with its settings: ErrMalformedKey when key cannot be a stream key,
	// ErrUnknownKey when no channel has it (revoked, rotated away or never
	// issued).
	Authenticate(ctx context.Context, key string) (Channel, error)
	// Destinations returns channel channelID's relay destinations, keys
	// and URLs in full (for the server's relays only: show people
	// Redacted), oldest first; ErrNotFound for an unknown channel.
	Destinations(ctx context.Context, channelID string) ([]Destination, error)
	// AddDestination validates d (Destination.Validate), gives it an ID
	// and CreatedAt, and adds it to channel channelID, which may have
	// MaxDestinations at most. It returns the stored destination in full
	// and notifies subscribers.
	AddDestination(ctx context.Context, channelID string, d Destination) (Destination, error)
	// UpdateDestination applies u to destination destID of channel
	// channelID, validates the result and stores it; it returns it in full
	// and notifies subscribers if anything changed. ErrNotFound for an
	// unknown channel, ErrNoDestination for an unknown destination.
	UpdateDestination(ctx context.Context, channelID, destID string, u DestinationUpdate) (Destination, error)
	// DeleteDestination deletes destination destID of channel channelID
	// and notifies subscribers; ErrNotFound or ErrNoDestination as
	// UpdateDestination.
	DeleteDestination(ctx context.Context, channelID, destID string) error
	// Subscribe calls fn with each Change: a key rotated or a channel
	// revoked, so that a live publish made with the old key can be ended;
	// destinations added, changed or deleted, so that a live stream's
	// relays can follow; settings changed. The returned func stops the
	// calls.
	Subscribe(fn func(Change)) (cancel func())
}

// Change is what a Store's subscribers are told: something about channel
// ChannelID that a live stream of it must act on.
type Change struct {
	ChannelID string
	What      ChangeKind
}

// ChangeKind says what changed.
type ChangeKind int

const (
	// KeyChanged: the channel's stream key was rotated; the old one no
	// longer publishes. Its destinations are unchanged.
	KeyChanged ChangeKind = iota + 1
	// ChannelRevoked: the channel, its key and its destinations are gone.
	// No DestinationsChanged comes with it.
	ChannelRevoked
	// DestinationsChanged: a destination of the channel was added,
	// deleted, enabled, disabled or given another key or URL.
	DestinationsChanged
	// SettingsChanged: the channel's settings changed. A live stream of
	// it keeps those it started with (see ChannelSettings): there is
	// nothing to end or restart.
	SettingsChanged
)

func (k ChangeKind) String() string {
	switch k {
	case KeyChanged:
		return "key changed"
	case ChannelRevoked:
		return "channel revoked"
	case DestinationsChanged:
		return "destinations changed"
	case SettingsChanged:
		return "settings changed"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

var (
	ErrNotFound     = errors.New("no such channel")
	ErrUnknownKey   = errors.New("unknown stream key")
	ErrMalformedKey = errors.New("malformed stream key")
)
