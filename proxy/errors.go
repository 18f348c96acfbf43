package proxy

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("proxy: server closed")
	// ErrNoServer refuses a publisher when the registry lists no healthy
	// server, or none of those listed could be reached.
	ErrNoServer = errors.New("proxy: no server reachable")
)
