package pipeline

import "errors"

// ErrTruncated is returned by File.Run when a file ends before the duration
// its container declares. The ladder has everything that was read.
var ErrTruncated = errors.New("input truncated")

// ErrAudioOnly is returned by AddTap on a graph without video (NewAudioOnly):
// there are no pictures to encode.
var ErrAudioOnly = errors.New("pipeline: the stream has no video")
