package codec

import "errors"

// ErrUnsupported is returned (wrapped, with the codec's name) for an input
// this project does not transcode, such as VP9 video or a missing video track.
var ErrUnsupported = errors.New("unsupported input")

// ErrClosed is returned when a closed decoder, encoder or scaler is used.
var ErrClosed = errors.New("codec closed")

// ErrCorrupt is wrapped by Decode's errors for data the decoder rejected.
// The decoder stays usable: the caller counts the packet and goes on.
// Errors returned by an emit callback are passed through unwrapped.
var ErrCorrupt = errors.New("corrupt data")
