package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ChannelSettings are a channel's own choices for its streams. Each one
// left unset is the server's. A stream reads them when it starts (the
// channel as Authenticate returned it): a change applies from the
// channel's next stream, never to the one live now.
type ChannelSettings struct {
	// ReconnectWindow replaces the server's reconnect window (how long a
	// stream whose publisher left stays live on a slate, waiting for the
	// channel's next publish to continue it) for this channel's streams;
	// 0 ends a stream with its publisher. nil: the server's window.
	ReconnectWindow *Duration `json:"reconnect_window,omitempty"`
	// KeepOnUnpublish: a clean unpublish ("stop streaming": FCUnpublish,
	// deleteStream) opens the reconnect window too, as a dropped
	// connection does, so that a creator who stops and starts again keeps
	// one stream (one recording, one run of segments). false: a clean
	// unpublish ends the stream at once.
	KeepOnUnpublish bool `json:"keep_on_unpublish,omitempty"`
}

// MaxReconnectWindow is the longest reconnect window a channel may have:
// a stream that waits transcodes its slate on the whole ladder meanwhile,
// and after an hour its creator is not coming back.
const MaxReconnectWindow = time.Hour

// ErrInvalidSettings is wrapped by the errors of channel settings that
// cannot be stored; their text names the field.
var ErrInvalidSettings = errors.New("invalid channel settings")

// ReconnectWindowOr is the channel's reconnect window, or server when the
// channel has none of its own.
func (s ChannelSettings) ReconnectWindowOr(server time.Duration) time.Duration {
	if s.ReconnectWindow == nil {
		return server
	}
	return time.Duration(*s.ReconnectWindow)
}

// Validate returns an error wrapping ErrInvalidSettings, naming the field,
// unless every setting is in its range.
func (s ChannelSettings) Validate() error {
	if w := s.ReconnectWindow; w != nil && (*w < 0 || time.Duration(*w) > MaxReconnectWindow) {
		return fmt.Errorf("%w: reconnect_window %s: must be 0s to %s", ErrInvalidSettings, *w, Duration(MaxReconnectWindow))
	}
	return nil
}

// IsZero reports whether s holds no setting of its own: the channel's
// streams are the server's in every way. Such settings are left out of
// the channel's JSON (omitzero).
func (s ChannelSettings) IsZero() bool { return s.ReconnectWindow == nil && !s.KeepOnUnpublish }

// equal compares settings by value (their pointers' targets).
func (s ChannelSettings) equal(o ChannelSettings) bool {
	if (s.ReconnectWindow == nil) != (o.ReconnectWindow == nil) {
		return false
	}
	if s.ReconnectWindow != nil && *s.ReconnectWindow != *o.ReconnectWindow {
		return false
	}
	return s.KeepOnUnpublish == o.KeepOnUnpublish
}

// Duration is a time.Duration that is a Go duration string in JSON
// ("30s", "1m30s"), as in the config file; a number is refused, since
// nobody means nanoseconds.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string. null leaves d as it is, as
// encoding/json does for other types.
func (d *Duration) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New(`want a duration string such as "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		// Not ParseDuration's error: it quotes s, and whatever was sent
		// may be anything, a key in the wrong field included.
		return errors.New(`want a duration string such as "30s" or "1m"`)
	}
	*d = Duration(v)
	return nil
}

// SettingsUpdate is a change to a channel's settings, and the JSON body of
// PATCH /api/channels/{id}: each setting given replaces the channel's, the
// others stay as they are. The result is validated as a whole
// (ChannelSettings.Validate).
//
// In JSON, "reconnect_window": "10s" sets the window and
// "reconnect_window": null gives the channel the server's window back.
type SettingsUpdate struct {
	// ReconnectWindow, when not nil, becomes the channel's window.
	ReconnectWindow *Duration
	// DefaultReconnectWindow gives the channel the server's window back.
	// It cannot come with ReconnectWindow.
	DefaultReconnectWindow bool
	// KeepOnUnpublish, when not nil, replaces the channel's.
	KeepOnUnpublish *bool
}

// The JSON fields of a SettingsUpdate.
const (
	fieldReconnectWindow = "reconnect_window"
	fieldKeepOnUnpublish = "keep_on_unpublish"
)

// apply returns s with u applied, validated.
func (u SettingsUpdate) apply(s ChannelSettings) (ChannelSettings, error) {
	switch {
	case u.DefaultReconnectWindow && u.ReconnectWindow != nil:
		return s, fmt.Errorf("%w: reconnect_window: a window or the server's, not both", ErrInvalidSettings)
	case u.DefaultReconnectWindow:
		s.ReconnectWindow = nil
	case u.ReconnectWindow != nil:
		w := *u.ReconnectWindow
		s.ReconnectWindow = &w
	}
	if u.KeepOnUnpublish != nil {
		s.KeepOnUnpublish = *u.KeepOnUnpublish
	}
	return s, s.Validate()
}

// MarshalJSON writes only the settings u changes.
func (u SettingsUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	switch {
	case u.DefaultReconnectWindow:
		m[fieldReconnectWindow] = nil
	case u.ReconnectWindow != nil:
		m[fieldReconnectWindow] = *u.ReconnectWindow
	}
	if u.KeepOnUnpublish != nil {
		m[fieldKeepOnUnpublish] = *u.KeepOnUnpublish
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads an update, refusing unknown fields: a misspelt
// setting must not be a change that silently does nothing. Its errors name
// the field but quote no value.
func (u *SettingsUpdate) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return errors.New("want a JSON object of settings")
	}
	for k := range m {
		if k != fieldReconnectWindow && k != fieldKeepOnUnpublish {
			return fmt.Errorf("unknown field %q; the settings are %s and %s", truncateField(k), fieldKeepOnUnpublish, fieldReconnectWindow)
		}
	}
	*u = SettingsUpdate{}
	if raw, ok := m[fieldReconnectWindow]; ok {
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			u.DefaultReconnectWindow = true
		} else {
			var d Duration
			if err := d.UnmarshalJSON(raw); err != nil {
				return fmt.Errorf("%s: %w, or null for the server's", fieldReconnectWindow, err)
			}
			u.ReconnectWindow = &d
		}
	}
	if raw, ok := m[fieldKeepOnUnpublish]; ok {
		var b *bool
		if err := json.Unmarshal(raw, &b); err != nil || b == nil {
			return fmt.Errorf("%s: want true or false", fieldKeepOnUnpublish)
		}
		u.KeepOnUnpublish = b
	}
	return nil
}

// truncateField shortens an unknown field's name for an error: it is
// whatever the client sent.
func truncateField(k string) string {
	const most = 40
	if r := []rune(k); len(r) > most {
		return string(r[:most]) + "…"
	}
	return k
}
