//go:build !linux

package pipeline

// yieldThread is a no-op where nice is not per thread.
func yieldThread() error { return nil }

// nameThread is a no-op where threads cannot be named.
func nameThread(string) error { return nil }
