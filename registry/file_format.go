package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// fileVersion is the version of the channels file's layout. A file of
// another version is refused rather than rewritten without what it holds.
const fileVersion = 1

// maxFileSize bounds how much of the channels file is read: 64 MiB holds
// some 200 000 channels, far more than one machine serves, and a larger file
// is not ours.
const maxFileSize = 64 << 20

// fileContent is the JSON of the channels file.
//
// Unknown fields are refused on reading: a newer livestream may add fields,
// and an older one rewriting the file would silently drop them. So a channel
// with no destinations is written without "destinations", and one with no
// settings without "settings": livestream versions from before them read
// such a file, and refuse one that holds them rather than lose them.
type fileContent struct {
	Version  int           `json:"version"`
	Channels []fileChannel `json:"channels"`
}

// fileChannel is a channel as stored: with the hash of its key, never the
// key, and its relay destinations with their keys, in the order added.
type fileChannel struct {
	Channel
	KeyHash      string        `json:"key_sha256"`
	Destinations []Destination `json:"destinations,omitempty"`
}

// snapshot is the registry as read from or written to the file at one
// moment. It is never changed once built: a mutation builds a new one.
type snapshot struct {
	channels []fileChannel // oldest first
	byID     map[string]int
	byPID    map[string]int
	byHash   map[string]int
	byDest   map[string]int // destination id → index of its channel
}

// newSnapshot indexes channels, which must be oldest first, and checks
// every field and that no id, playback id, key hash or destination id is
// used twice.
func newSnapshot(channels []fileChannel) (*snapshot, error) {
	s := &snapshot{
		channels: channels,
		byID:     make(map[string]int, len(channels)),
		byPID:    make(map[string]int, len(channels)),
		byHash:   make(map[string]int, len(channels)),
		byDest:   map[string]int{},
	}
	for i, c := range channels {
		if err := checkStored(c); err != nil {
			return nil, fmt.Errorf("channel %d: %w", i, err)
		}
		if _, dup := s.byID[c.ID]; dup {
			return nil, fmt.Errorf("channel %d: channel_id %s used twice", i, c.ID)
		}
		if _, dup := s.byPID[c.PlaybackID]; dup {
			return nil, fmt.Errorf("channel %d (%s): playback_id %s used twice", i, c.ID, c.PlaybackID)
		}
		if _, dup := s.byHash[c.KeyHash]; dup {
			return nil, fmt.Errorf("channel %d (%s): key_sha256 used twice", i, c.ID)
		}
		s.byID[c.ID], s.byPID[c.PlaybackID], s.byHash[c.KeyHash] = i, i, i
		for j, d := range c.Destinations {
			if _, dup := s.byDest[d.ID]; dup {
				return nil, fmt.Errorf("channel %d (%s): destinations[%d]: id %s used twice", i, c.ID, j, d.ID)
			}
			s.byDest[d.ID] = i
		}
	}
	return s, nil
}

// checkStored checks the fields of a channel read from the file.
func checkStored(c fileChannel) error {
	switch {
	case !validChannelID(c.ID):
		return fmt.Errorf("channel_id %q: want %q and %d of [a-z0-9]", c.ID, channelPrefix, channelRandLen)
	case !validPlaybackID(c.PlaybackID):
		return fmt.Errorf("%s: playback_id %q: want %d of [a-z0-9]", c.ID, c.PlaybackID, playbackIDLen)
	case !validKeyHash(c.KeyHash):
		return fmt.Errorf("%s: key_sha256: want 64 lowercase hex digits", c.ID)
	case c.CreatedAt.IsZero():
		return fmt.Errorf("%s: created_at missing", c.ID)
	case c.KeyRotatedAt.IsZero():
		return fmt.Errorf("%s: key_rotated_at missing", c.ID)
	}
	if err := checkName(c.Name); err != nil {
		return fmt.Errorf("%s: name: %w", c.ID, err)
	}
	if err := c.Settings.Validate(); err != nil {
		return fmt.Errorf("%s: settings: %w", c.ID, err)
	}
	if len(c.Destinations) > MaxDestinations {
		return fmt.Errorf("%s: %d destinations, at most %d", c.ID, len(c.Destinations), MaxDestinations)
	}
	for j, d := range c.Destinations {
		if err := checkStoredDestination(d); err != nil {
			return fmt.Errorf("%s: destinations[%d]: %w", c.ID, j, err)
		}
	}
	return nil
}

// checkStoredDestination checks a destination read from the file. Like
// Validate's, its errors quote no key or URL; nor the id, which is quoted
// only once known to be one.
func checkStoredDestination(d Destination) error {
	switch {
	case !validDestinationID(d.ID):
		return fmt.Errorf("id: want %q and %d of [a-z0-9]", destinationPrefix, destinationRandLen)
	case d.CreatedAt.IsZero():
		return fmt.Errorf("%s: created_at missing", d.ID)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%s: %w", d.ID, err)
	}
	return nil
}

// parseFile decodes the channels file. Its errors say what is wrong but not
// where the file is; the caller adds that.
func parseFile(data []byte) (*snapshot, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty file, want a JSON object with version and channels")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fc fileContent
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("not a channels file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not a channels file: data after the JSON object")
	}
	if fc.Version != fileVersion {
		return nil, fmt.Errorf("version %d, this livestream reads version %d", fc.Version, fileVersion)
	}
	// Oldest first whatever the order in the file, as List promises; the
	// stable sort keeps channels created in the same instant in file order.
	slices.SortStableFunc(fc.Channels, func(a, b fileChannel) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return newSnapshot(fc.Channels)
}

// encode returns the file's JSON, indented: people read this file when
// something goes wrong. It holds no stream key, but it does hold relay
// destinations' keys, which the server needs as they are: the file has mode
// 0600, and nothing prints it.
func (s *snapshot) encode() []byte {
	channels := s.channels
	if channels == nil {
		channels = []fileChannel{} // "channels": [] rather than null
	}
	data, err := json.MarshalIndent(fileContent{Version: fileVersion, Channels: channels}, "", "  ")
	if err != nil {
		panic("registry: encode channels: " + err.Error()) // strings and times always encode
	}
	return append(data, '\n')
}

// lookup returns the channel at index i of the map m, if any.
func (s *snapshot) lookup(m map[string]int, k string) (fileChannel, bool) {
	i, ok := m[k]
	if !ok {
		return fileChannel{}, false
	}
	return s.channels[i], true
}

// list returns every channel, oldest first, without key hashes.
func (s *snapshot) list() []Channel {
	out := make([]Channel, len(s.channels))
	for i, c := range s.channels {
		out[i] = c.Channel
	}
	return out
}

// changes returns what subscribers must hear of going from s to next, in
// the order of s's channels: keys that stopped working (rotated away, or
// the channel revoked), destinations and settings that changed. Channels
// new in next have no live stream to tell. s may be nil (nothing was
// loaded).
func (s *snapshot) changes(next *snapshot) []Change {
	if s == nil {
		return nil
	}
	var out []Change
	for _, c := range s.channels {
		n, ok := next.lookup(next.byID, c.ID)
		if !ok {
			out = append(out, Change{c.ID, ChannelRevoked})
			continue
		}
		if n.KeyHash != c.KeyHash {
			out = append(out, Change{c.ID, KeyChanged})
		}
		if !slices.EqualFunc(c.Destinations, n.Destinations, sameDestination) {
			out = append(out, Change{c.ID, DestinationsChanged})
		}
		if !c.Settings.equal(n.Settings) {
			out = append(out, Change{c.ID, SettingsChanged})
		}
	}
	return out
}

// sameDestination compares destinations field by field, times by Equal:
// one read back from the file has lost its monotonic clock reading.
func sameDestination(a, b Destination) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Key == b.Key && a.URL == b.URL &&
		a.Enabled == b.Enabled && a.CreatedAt.Equal(b.CreatedAt)
}

// destination returns the index of channel i's destination destID, or -1.
func (s *snapshot) destination(i int, destID string) int {
	return slices.IndexFunc(s.channels[i].Destinations, func(d Destination) bool { return d.ID == destID })
}
