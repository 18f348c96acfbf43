package record

import "errors"

var (
	// ErrNotFound is returned by Backend.Get for a name that holds nothing.
	ErrNotFound = errors.New("record: not found")
	// ErrBadName is returned for a playback id, rendition or object name
	// that is empty, holds characters outside [A-Za-z0-9._-] in one of its
	// parts, or climbs out of the backend ("..").
	ErrBadName = errors.New("record: bad name")
	// ErrSpoolFull is returned by Session.Segment when the spool has
	// reached Config.SpoolMaxBytes (the storage has been unreachable for a
	// long time): the segment is dropped and counted.
	ErrSpoolFull = errors.New("record: spool full")
	// ErrEnded is returned by Session.Segment after End.
	ErrEnded = errors.New("record: session ended")
	// ErrClosed is returned by Recorder.Start after Close.
	ErrClosed = errors.New("record: recorder closed")
)
