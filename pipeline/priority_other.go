//go:build !linux

package pipeline

// yieldThread is a no-op where nice is not per thread.
func yieldThread() error { return nil }
