package main

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The CPU share a server reports and refuses publishes by is the mean over
// cpuWindow, measured every cpuSampleEvery: one busy second (a burst of
// keyframes, a GC) neither refuses a publish nor reorders the proxies'
// choice, and a server that fills up stops taking publishes within
// seconds.
const (
	cpuSampleEvery = time.Second
	cpuWindow      = 5 * time.Second
)

// cpuGauge is this process's share of the machine's CPU, averaged over its
// window (transcoding is all of a server's CPU use). run samples it; Share
// and Overloaded may be called from any goroutine.
type cpuGauge struct {
	// used is the CPU time the process has used so far: getrusage, or a
	// test's clock.
	used   func() time.Duration
	cores  int
	every  time.Duration
	window time.Duration
	// max is the share at or above which Overloaded reports true; 0: never.
	max float64

	mu      sync.Mutex
	samples []cpuSample // oldest first, spanning at most window
	share   atomic.Uint64
}

type cpuSample struct {
	at   time.Time
	used time.Duration
}

// newCPUGauge measures this process with getrusage.
func newCPUGauge(maxShare float64) *cpuGauge {
	return &cpuGauge{used: processCPUTime, cores: runtime.NumCPU(), every: cpuSampleEvery, window: cpuWindow, max: maxShare}
}

// processCPUTime is the user and system CPU time of this process.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run samples every g.every until ctx is done.
func (g *cpuGauge) run(ctx context.Context) {
	tick := time.NewTicker(g.every)
	defer tick.Stop()
	g.sample(time.Now())
	for {
		select {
		case now := <-tick.C:
			g.sample(now)
		case <-ctx.Done():
			return
		}
	}
}

// sample measures the CPU time used at now and updates the share: the CPU
// time used between the oldest sample within the window and now.
func (g *cpuGauge) sample(now time.Time) {
	s := cpuSample{at: now, used: g.used()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.samples); n > 0 && !now.After(g.samples[n-1].at) {
		return // the clock went back: keep what there is
	}
	g.samples = append(g.samples, s)
	// Keep the newest sample at least window old, so the mean spans the
	// whole window once it can.
	i := 0
	for i+1 < len(g.samples) && now.Sub(g.samples[i+1].at) >= g.window {
		i++
	}
	g.samples = g.samples[i:]
	first := g.samples[0]
	share := 0.0
	if now.After(first.at) && g.cores > 0 {
		share = float64(s.used-first.used) / float64(now.Sub(first.at)) / float64(g.cores)
	}
	g.share.Store(math.Float64bits(min(max(share, 0), 1)))
}

// Share is the CPU share of the last window, 0 to 1; 0 before two samples.
func (g *cpuGauge) Share() float64 { return math.Float64frombits(g.share.Load()) }

// Overloaded reports whether the share is at or above max: the server
// refuses new publishes then (live.Config.Overloaded).
func (g *cpuGauge) Overloaded() bool { return g.max > 0 && g.Share() >= g.max }
