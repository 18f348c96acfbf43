package srt

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("srt: server closed")
	// ErrNotMPEGTS ends a publish whose bytes are not MPEG-TS (no sync
	// byte where a packet must start): the publisher sends another
	// container, or garbage.
	ErrNotMPEGTS = errors.New("srt: publisher sent something other than MPEG-TS")
)
