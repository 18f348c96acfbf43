package main

import (
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/relay"
)

const (
	// liveTimeout bounds the wait for every relay to publish.
	liveTimeout = 30 * time.Second
	// drainTimeout bounds the wait, after the last packet is written, for
	// the relays to send what they queued.
	drainTimeout = 5 * time.Second
	// maxLag is how far behind the wall clock a feeder or an ffmpeg CLI
	// may fall and still count as keeping up with real time.
	maxLag = time.Second
)

// runOurs relays sc to the RTMP server at addr with package relay, as the
// server does: S feeders, each writing the source in real time (paced by
// DTS, looped) to its D relays for seconds. It measures this process's CPU
// from the first relay.Start to the last Close. log receives the relays'
// events.
func runOurs(addr string, src *source, sc scenario, seconds float64, log *slog.Logger) (trial, error) {
	t := trial{relays: sc.streams * sc.dests, seconds: seconds}
	cpu0, wall0 := cpuTime(), time.Now()
	relays := make([][]*relay.Relay, sc.streams)
	defer closeAll(relays) // on errors; a second Close does nothing
	for i := range relays {
		for j := range sc.dests {
			r, err := relay.Start(relay.Config{Kind: "custom", URL: destURL(addr, i, j), Logger: log}, src.video, src.audio)
			if err != nil {
				return t, fmt.Errorf("start relay %d of stream %d: %w", j, i, err)
			}
			relays[i] = append(relays[i], r)
		}
	}
	if n := waitLive(relays, liveTimeout); n > 0 {
		closeAll(relays)
		t.cpu, t.wall = cpuTime()-cpu0, time.Since(wall0)
		t.problem = fmt.Sprintf("%d relays not live after %v", n, liveTimeout)
		return t, nil
	}

	// Streams start within one video frame of each other, spread evenly,
	// each from another keyframe of the source, as independent cameras do.
	frame := time.Duration(float64(time.Second) / max(src.video.FrameRate.Float(), 1))
	until := int64(seconds * media.ClockRate)
	start := time.Now()
	written := make([]int64, sc.streams)
	lags := make([]time.Duration, sc.streams)
	var wg sync.WaitGroup
	for i := range sc.streams {
		wg.Go(func() {
			at := start.Add(frame * time.Duration(i) / time.Duration(sc.streams))
			written[i], lags[i] = feed(src.cursor(i), until, at, relays[i])
		})
	}
	wg.Wait()
	drain(relays, written, drainTimeout)

	var problems []string
	for i := range relays {
		t.maxLag = max(t.maxLag, lags[i])
		for _, r := range relays[i] {
			st := r.Status()
			t.bytes += st.BytesSent
			t.dropped += st.Dropped
			t.unsent += max(written[i]-st.PacketsSent-st.Dropped, 0)
			t.reconnects += st.Reconnects
		}
	}
	closeAll(relays)
	t.cpu, t.wall = cpuTime()-cpu0, time.Since(wall0)
	if t.dropped > 0 {
		problems = append(problems, fmt.Sprintf("%d packets dropped", t.dropped))
	}
	if t.unsent > 0 {
		problems = append(problems, fmt.Sprintf("%d packets unsent after %v", t.unsent, drainTimeout))
	}
	if t.reconnects > 0 {
		problems = append(problems, fmt.Sprintf("%d reconnects", t.reconnects))
	}
	if t.maxLag >= maxLag {
		problems = append(problems, fmt.Sprintf("feeding %.2f s behind", t.maxLag.Seconds()))
	}
	t.problem = joinProblems(problems)
	return t, nil
}

// feed writes the packets of c to relays when they are due, from at, until
// a packet's time reaches until ticks. It returns how many it wrote and
// how late the latest was. Sleeping is the pacing itself: real time is
// what is measured.
func feed(c *cursor, until int64, at time.Time, relays []*relay.Relay) (written int64, lag time.Duration) {
	for {
		p, ts := c.next()
		if ts >= until {
			return written, lag
		}
		due := at.Add(media.Duration(ts))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		lag = max(lag, time.Since(due))
		for _, r := range relays {
			r.WritePacket(p)
		}
		written++
	}
}

// waitLive waits until every relay publishes, up to timeout, and returns
// how many do not. Status is all a relay offers: poll it.
func waitLive(relays [][]*relay.Relay, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := 0
		for _, rs := range relays {
			for _, r := range rs {
				if r.Status().State != relay.Live {
					n++
				}
			}
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drain waits, up to timeout, until every relay of stream i has sent or
// dropped written[i] packets.
func drain(relays [][]*relay.Relay, written []int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for i, rs := range relays {
			for _, r := range rs {
				if st := r.Status(); st.PacketsSent+st.Dropped < written[i] {
					done = false
				}
			}
		}
		if done || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeAll closes every relay, all at once: each Close waits for its
// goodbye.
func closeAll(relays [][]*relay.Relay) {
	var wg sync.WaitGroup
	for _, rs := range relays {
		for _, r := range rs {
			wg.Go(r.Close)
		}
	}
	wg.Wait()
}

// destURL is the URL of stream i's destination j: the stream name is the
// destination's key, so it never appears in the output.
func destURL(addr string, i, j int) string {
	return fmt.Sprintf("rtmp://%s/live/s%d_d%d", addr, i, j)
}

// cpuTime is the user+system CPU time used so far by this process, all
// threads included (as bench.CPUTime, without linking FFmpeg in).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
