package origin

import "errors"

// ErrNotFound is what a VODSource returns (or wraps) for a name that holds
// nothing: /vod/ answers 404. Any other error is the storage failing, and
// /vod/ answers 503 so that nobody takes the recording for gone.
var ErrNotFound = errors.New("origin: not found")
