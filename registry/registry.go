// Package registry holds channels and their stream keys: who may publish,
// and under which public playback id viewers watch.
//
// A channel has a secret stream key, used only to publish and stored only
// as its SHA-256 hash, and a public playback id used in every viewer URL,
// playlist and recording path. Nothing in this package logs, formats or
// returns a stream key except the call that creates or rotates it.
//
// FileStore is the Store of a single machine (`livestream serve`): one JSON
// file that the `livestream keys` CLI may edit while the server runs.
// AdminHandler serves the admin API over any Store, and Client calls it.
// Stream keys are "sk_" and 32 lowercase base32 characters (160 random
// bits), playback ids 16 characters of [a-z0-9], channel ids "ch_" and 12.
package registry

import (
	"context"
	"errors"
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
	// Authenticate returns the channel whose current stream key is key:
	// ErrMalformedKey when key cannot be a stream key, ErrUnknownKey when
	// no channel has it (revoked, rotated away or never issued).
	Authenticate(ctx context.Context, key string) (Channel, error)
	// Subscribe calls fn with a channel's id each time its key is rotated
	// or the channel revoked, so that a live publish made with the old key
	// can be ended. The returned func stops the calls.
	Subscribe(fn func(channelID string)) (cancel func())
}

var (
	ErrNotFound     = errors.New("no such channel")
	ErrUnknownKey   = errors.New("unknown stream key")
	ErrMalformedKey = errors.New("malformed stream key")
)
