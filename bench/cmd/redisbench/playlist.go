package main

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// mediaPlaylist is what a viewer needs of a live media playlist (RFC 8216
// section 4.3.3): how often to reload it, and which segments it lists.
type mediaPlaylist struct {
	// Target is EXT-X-TARGETDURATION in seconds.
	Target int
	// Sequence is EXT-X-MEDIA-SEQUENCE: the number of Segments[0].
	Sequence int64
	// Segments are the URIs listed, oldest first.
	Segments []string
	// Ended is EXT-X-ENDLIST: the stream is over, reload no more.
	Ended bool
}

// Limits on what a playlist may hold here: the origin's are a few hundred
// bytes, and a viewer must not be made to fetch without end.
const (
	maxPlaylistLine     = 4 << 10
	maxPlaylistSegments = 1000
	maxTargetDuration   = 60 // seconds, a reload at least this often
)

// parseMediaPlaylist reads a media playlist. Tags it does not use are
// skipped.
func parseMediaPlaylist(text string) (mediaPlaylist, error) {
	var p mediaPlaylist
	lines, err := playlistLines(text)
	if err != nil {
		return p, err
	}
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
			if err != nil || n < 1 || n > maxTargetDuration {
				return p, fmt.Errorf("media playlist: %q: want 1 to %d s", line, maxTargetDuration)
			}
			p.Target = n
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
			if err != nil || n < 0 || n > 1<<62 {
				return p, fmt.Errorf("media playlist: %q: want a number", line)
			}
			p.Sequence = n
		case line == "#EXT-X-ENDLIST":
			p.Ended = true
		case line[0] == '#':
		default:
			if len(p.Segments) == maxPlaylistSegments {
				return p, fmt.Errorf("media playlist: more than %d segments", maxPlaylistSegments)
			}
			p.Segments = append(p.Segments, line)
		}
	}
	if p.Target == 0 {
		return p, errors.New("media playlist: no EXT-X-TARGETDURATION")
	}
	return p, nil
}

// parseMasterPlaylist returns the URIs of a master playlist's variants.
func parseMasterPlaylist(text string) ([]string, error) {
	lines, err := playlistLines(text)
	if err != nil {
		return nil, err
	}
	var variants []string
	for i, line := range lines {
		if line[0] == '#' {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#EXT-X-STREAM-INF:") {
			return nil, fmt.Errorf("master playlist: URI %q not after EXT-X-STREAM-INF", line)
		}
		if len(variants) == maxPlaylistSegments {
			return nil, fmt.Errorf("master playlist: more than %d variants", maxPlaylistSegments)
		}
		variants = append(variants, line)
	}
	if len(variants) == 0 {
		return nil, errors.New("master playlist: no variant")
	}
	return variants, nil
}

// playlistLines returns the non-blank lines of a playlist, trimmed, after
// checking that it starts with #EXTM3U. A URI must be a relative path
// under the playlist's directory, as the origin writes them: anything else
// would send the viewer elsewhere.
func playlistLines(text string) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, maxPlaylistLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line[0] != '#' && !relativeURI(line) {
			return nil, fmt.Errorf("playlist: URI %q: want a relative path", line)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("playlist: %w", err)
	}
	if len(lines) == 0 || lines[0] != "#EXTM3U" {
		return nil, errors.New("playlist: does not start with #EXTM3U")
	}
	return lines, nil
}

func relativeURI(s string) bool {
	if strings.HasPrefix(s, "/") || strings.Contains(s, "..") || strings.Contains(s, "//") {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}
