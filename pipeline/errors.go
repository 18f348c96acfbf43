package pipeline

import "errors"

// ErrTruncated is returned by File.Run when a file ends before the duration
// its container declares. The ladder has everything that was read.
var ErrTruncated = errors.New("input truncated")
