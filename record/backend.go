package record

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Backend is where recordings go: a directory (DirBackend) or an S3 bucket
// (S3Backend). Names are slash-separated and relative
// ("abc123/vod-1732430000000.m3u8"). Implementations are safe for
// concurrent use.
type Backend interface {
	// Put replaces name's content with data, atomically: a reader sees
	// the old object or the new one, never a part. The backend does not
	// keep data after Put returns.
	Put(ctx context.Context, name string, data []byte, contentType, cacheControl string) error
	// Get returns name's content, or ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the objects whose names start with prefix, sorted by
	// name.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes name; it is not an error when name holds nothing.
	Delete(ctx context.Context, name string) error
}

// ObjectInfo describes one object of a Backend.
type ObjectInfo struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Content types and cache policies of what a recording writes. Segments
// never change once written; an EVENT playlist changes with every segment,
// so players and CDNs must come back for it soon; a VOD playlist changes
// only if the recording is deleted.
const (
	segmentType        = "video/mp2t"        // an MPEG-TS segment
	fmp4SegmentType    = "video/iso.segment" // an fMP4 media segment (the IANA type of an ISO BMFF segment)
	initType           = "video/mp4"         // an fMP4 init section
	playlistType       = "application/vnd.apple.mpegurl"
	sessionInfoType    = "application/json"
	segmentCache       = "public, max-age=31536000, immutable"
	eventPlaylistCache = "public, max-age=2"
	vodPlaylistCache   = "public, max-age=86400"
	sessionInfoCache   = "no-cache"
)

// contentType is the Content-Type of a segment or init section object,
// by its name's extension.
func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, extM4S):
		return fmp4SegmentType
	case strings.HasSuffix(name, extInit):
		return initType
	}
	return segmentType
}

// maxPartLen bounds one part of a name (a playback id, a rendition): these
// become file and object names.
const maxPartLen = 128

// checkPart rejects a single name part (a playback id, a rendition name)
// that is empty, too long, starts with a dot, or holds anything but
// [A-Za-z0-9._-]: parts become paths, so nothing may climb ("..") or hide
// (".tmp-…", the directory backend's temporary files).
func checkPart(kind, p string) error {
	if p == "" || len(p) > maxPartLen || p[0] == '.' {
		return fmt.Errorf("%w: %s %q: want 1 to %d of [A-Za-z0-9._-], not starting with a dot", ErrBadName, kind, p, maxPartLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %s %q: want 1 to %d of [A-Za-z0-9._-], not starting with a dot", ErrBadName, kind, p, maxPartLen)
		}
	}
	return nil
}

// checkName rejects an object name that is not parts joined by slashes.
func checkName(name string) error {
	for _, p := range strings.Split(name, "/") {
		if err := checkPart("name part", p); err != nil {
			return fmt.Errorf("object %q: %w", name, err)
		}
	}
	return nil
}

// checkPrefix accepts "" and names that may end with a slash.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return checkName(strings.TrimSuffix(prefix, "/"))
}
