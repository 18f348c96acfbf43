package origin

import "errors"

// ErrNotFound is what a VODSource returns (or wraps) for a name that holds
// nothing: /vod/ answers 404. Any other error is the storage failing, and
// /vod/ answers 503 so that nobody takes the recording for gone.
var ErrNotFound = errors.New("origin: not found")

// ErrNoRoute is what a Router returns (or wraps) when no server holds a
// live stream of the playback id: the Cluster answers 404.
var ErrNoRoute = errors.New("origin: no route to the stream")

// errUnavailable marks a live file that could not be read because the
// server holding the stream (or the registry naming it) did not answer:
// the viewer gets 503, a try-again-soon, rather than a 404 that players
// take for the end of the stream.
var errUnavailable = errors.New("origin: stream unavailable")

// errTooFar is a blocking request (RFC 8216bis §6.2.5.2) for a segment
// or part too far ahead of the playlist, which the server will not hold:
// the viewer gets 400 at once.
var errTooFar = errors.New("origin: blocking request too far ahead of the playlist")
