package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckGoroutines(t *testing.T) {
	t.Run("ended", func(t *testing.T) {
		r := &recorder{TB: t}
		check := CheckGoroutines(r)
		done := make(chan struct{})
		go func() { <-done }()
		close(done) // ends before the check gives up waiting
		check()
		if len(r.errors) != 0 {
			t.Errorf("a goroutine that ended was reported: %v", r.errors)
		}
	})
	t.Run("leaked", func(t *testing.T) {
		r := &recorder{TB: t}
		before := goroutineIDs(allStacks())
		stop := make(chan struct{})
		defer close(stop)
		go leakedForTest(stop)
		checkGoroutines(r, before, 50*time.Millisecond)
		if len(r.errors) != 1 || !strings.Contains(r.errors[0], "leakedForTest") {
			t.Errorf("the leak was not reported with its stack: %q", r.errors)
		}
	})
}

func leakedForTest(stop chan struct{}) { <-stop }
