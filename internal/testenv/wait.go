package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it returns true, and fails the test
// if timeout passes first; what names the awaited state in that failure.
// Use it only where no event can be awaited: another process's output, a
// file appearing. Everything in our own code has a channel to wait on.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
