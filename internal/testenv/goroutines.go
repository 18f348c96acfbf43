package testenv

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutineGrace bounds how long CheckGoroutines waits for goroutines that
// are on their way out (a server's connection handlers after Shutdown).
const goroutineGrace = 5 * time.Second

// Goroutines the standard library starts once per process and never ends:
// not leaks of the test that happened to start them first.
var foreverGoroutines = []string{
	"os/signal.signal_recv", // signal.Notify's loop
	"os/signal.loop",
	"runtime.ensureSigM",
	// gosrt's client, which tests use as a caller (the server never
	// dials): after a refused Dial its reader blocks forever sending on
	// an unbuffered channel nobody reads once Close gave up waiting.
	"github.com/datarhei/gosrt.Dial.func1",
}

// CheckGoroutines returns a function to defer that fails the test when
// goroutines started during the test are still running, after waiting up to
// 5 s for them to end, and prints their stacks:
//
//	defer testenv.CheckGoroutines(t)()
//
// It compares goroutine IDs, so a goroutine that ended meanwhile cannot hide
// one that leaked. Do not use it in parallel tests: their goroutines would
// count as this test's.
func CheckGoroutines(t testing.TB) func() {
	t.Helper()
	before := goroutineIDs(allStacks())
	return func() {
		t.Helper()
		checkGoroutines(t, before, goroutineGrace)
	}
}

func checkGoroutines(t testing.TB, before map[string]bool, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(grace)
	for {
		leaked := newGoroutines(allStacks(), before)
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines started by the test are still running after %v:\n\n%s",
				len(leaked), grace, strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allStacks is runtime.Stack of every goroutine, grown until it fits.
func allStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// goroutineIDs is the set of "goroutine N" headers in a stack dump.
func goroutineIDs(dump []byte) map[string]bool {
	ids := map[string]bool{}
	for _, g := range bytes.Split(dump, []byte("\n\n")) {
		ids[goroutineID(string(g))] = true
	}
	return ids
}

// newGoroutines returns the stacks in dump of goroutines not in before,
// leaving out the one calling it and those the runtime keeps forever.
func newGoroutines(dump []byte, before map[string]bool) []string {
	var leaked []string
	for i, g := range strings.Split(strings.TrimSpace(string(dump)), "\n\n") {
		if i == 0 || before[goroutineID(g)] { // runtime.Stack lists the caller first
			continue
		}
		forever := false
		for _, f := range foreverGoroutines {
			forever = forever || strings.Contains(g, f)
		}
		if !forever {
			leaked = append(leaked, g)
		}
	}
	return leaked
}

// goroutineID is the "goroutine 42" of a stack's first line
// ("goroutine 42 [chan receive]:").
func goroutineID(stack string) string {
	head, _, _ := strings.Cut(stack, " [")
	return head
}
