package hlsmux

import (
	"fmt"
	"path"
	"strings"
)

// Store holds segments and playlists by slash-separated name
// ("720p/1732430000000.ts", "720p/index.m3u8", "live.m3u8").
type Store interface {
	// Put replaces name's content atomically: a reader sees the old bytes or
	// the new ones, never a part. The store may keep data; the caller must
	// not modify it after Put.
	Put(name string, data []byte) error
	// Get returns name's content, or ErrNotFound. The caller must not modify it.
	Get(name string) ([]byte, error)
	// Delete removes name; it is not an error when name holds nothing.
	Delete(name string) error
}

// checkName rejects names that are empty, absolute, climb out of the store
// or are not in their clean slash-separated form (so that one file has one
// name in every store).
func checkName(name string) error {
	var why string
	switch {
	case name == "":
		why = "empty"
	case strings.HasPrefix(name, "/"):
		why = "absolute"
	case strings.ContainsAny(name, "\\\x00"):
		why = "holds a backslash or NUL"
	case name == ".." || strings.HasPrefix(name, "../") || strings.HasSuffix(name, "/..") || strings.Contains(name, "/../"):
		why = "climbs out of the store"
	case path.Clean(name) != name:
		why = "not clean"
	default:
		return nil
	}
	return fmt.Errorf("%w: %q: %s", ErrBadName, name, why)
}
