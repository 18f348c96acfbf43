package origin

import (
	"bytes"
	"strconv"
	"time"
)

// How long the Cluster serves a fetched file before asking its server
// again. Segments are kept until evicted: a segment's name (its stream's
// publish time in ms plus its index) never names other bytes.
const (
	// masterTTL: a master lists the ladder, which does not change while a
	// stream is live; a stream that restarts elsewhere has the same one.
	masterTTL = 5 * time.Second
	// maxPlaylistTTL bounds how late a viewer learns of a new segment,
	// beyond what the server's own playlist is late: RFC 8216 (6.3.4)
	// has players reload a playlist about once a target duration.
	maxPlaylistTTL = time.Second
	// negativeTTL: a 404 (a stream about to start, a segment not yet
	// written) is kept briefly, so that a crowd asking for it costs one
	// fetch a second, and a starting stream is seen within a second.
	negativeTTL = time.Second
)

// targetDurationTag is the media playlist tag that bounds its segments'
// duration (RFC 8216, 4.3.3.1); it is never the first line (#EXTM3U is).
var targetDurationTag = []byte("\n#EXT-X-TARGETDURATION:")

// maxTargetDigits bounds the tag's decimal-integer: more digits than any
// sane target, fewer than overflow an int64 of seconds.
const maxTargetDigits = 9

// playlistTTL is how long a media playlist may be served from the cache:
// half its target duration, at most maxPlaylistTTL. A playlist without a
// valid target (nothing a server of ours writes) gets maxPlaylistTTL.
func playlistTTL(playlist []byte) time.Duration {
	i := bytes.Index(playlist, targetDurationTag)
	if i < 0 {
		return maxPlaylistTTL
	}
	v := playlist[i+len(targetDurationTag):]
	if end := bytes.IndexByte(v, '\n'); end >= 0 {
		v = v[:end]
	}
	v = bytes.TrimSuffix(v, []byte("\r"))
	if len(v) == 0 || len(v) > maxTargetDigits {
		return maxPlaylistTTL
	}
	secs, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || secs == 0 {
		return maxPlaylistTTL
	}
	return min(time.Duration(secs)*time.Second/2, maxPlaylistTTL)
}
