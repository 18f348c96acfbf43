package origin

import "time"

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
	// minPlaylistTTL keeps a playlist of made-up tiny parts from costing
	// a fetch per request.
	minPlaylistTTL = 50 * time.Millisecond
)

// playlistTTL is how long a media playlist may be served from the cache:
// half its target duration, at most maxPlaylistTTL; for a low-latency
// playlist half its part target, since its viewers follow the parts. A
// playlist without a valid target (nothing a server of ours writes) gets
// maxPlaylistTTL.
func playlistTTL(playlist []byte) time.Duration {
	if part, ok := partTarget(playlist); ok {
		return min(max(part/2, minPlaylistTTL), maxPlaylistTTL)
	}
	target, ok := targetDuration(playlist)
	if !ok {
		return maxPlaylistTTL
	}
	return min(target/2, maxPlaylistTTL)
}
