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

// checkName rejects names that are empty, absolute or leave the store.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if path.Clean(name) != name {
		return fmt.Errorf("%w: %q is not clean", ErrBadName, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." || part == "." {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}
