package srt

import (
	"errors"
	"fmt"
	"strings"
)

// maxStreamID bounds the stream id we look at: SRT carries at most 512
// bytes of it in the handshake.
const maxStreamID = 512

// The stream id's errors. Callers get them as SRT rejections (1400, 1405).
var (
	// errBadStreamID: the stream id names no key, or breaks the SRT
	// access control syntax.
	errBadStreamID = errors.New("malformed stream id")
	// errNotPublish: the stream id asks to read (m=request) or for a
	// mode there is none of (m=bidirectional).
	errNotPublish = errors.New("stream id mode is not publish")
)

// streamID is what a publisher's SRT stream id says.
type streamID struct {
	// key is the stream key; rawQuery the relay parameters after a '?'
	// (twitch=…), as in an RTMP publishing name.
	key, rawQuery string
}

// parseStreamID reads a stream id in either form publishers use:
//
//   - SRT's access control syntax, "#!::r=stream/KEY,m=publish" (keys r,
//     m, and others ignored; r may omit the app: "#!::r=KEY"), as OBS's
//     and vMix's documentation write it;
//   - a bare "KEY" (or "stream/KEY"), as simpler encoders send it.
//
// Either may end in "?twitch=…" like an RTMP publishing name. app is the
// RTMP app (ingest.Config.App) a resource may start with.
func parseStreamID(s, app string) (streamID, error) {
	if len(s) > maxStreamID {
		return streamID{}, fmt.Errorf("stream id of %d bytes: %w", len(s), errBadStreamID)
	}
	resource := s
	if rest, ok := strings.CutPrefix(s, "#!::"); ok {
		resource = ""
		seen := map[string]bool{}
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return streamID{}, fmt.Errorf("stream id pair without a key or '=': %w", errBadStreamID)
			}
			if seen[k] {
				return streamID{}, fmt.Errorf("stream id key %q twice: %w", printable(k), errBadStreamID)
			}
			seen[k] = true
			switch k {
			case "r":
				resource = v
			case "m":
				if v != "publish" {
					return streamID{}, fmt.Errorf("m=%s: %w", printable(v), errNotPublish)
				}
			}
		}
	}
	name, query, _ := strings.Cut(resource, "?")
	name = strings.TrimPrefix(name, app+"/")
	if name == "" || strings.Contains(name, "/") {
		return streamID{}, fmt.Errorf("no stream key in the stream id: %w", errBadStreamID)
	}
	return streamID{key: name, rawQuery: query}, nil
}

// printable quotes a peer's word in an error without letting it put
// control characters or much text there. It is only used on stream id
// keys and modes, never on the resource (the key).
func printable(s string) string {
	if len(s) > 16 {
		s = s[:16] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
