package origin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/browser"
)

// TestWatchPageLowLatency plays a Low-Latency HLS stream (the hand-made
// watchLlStream: 0.5 s parts, PART-HOLD-BACK 1.5 s, blocking reload, a
// PROGRAM-DATE-TIME on every frame) in the watch page: hls.js loads parts
// and holds the latency the playlist asks for, measured both by hls.js and
// from the frames' PDT against the wall clock; switching through every
// rendition as ABR does (what is buffered stays; the next fragments come
// from the new rendition) never runs out of media; and the overlay says
// LL is on.
//
// A stall with media buffered ahead is the decoder's, not the stream's:
// Chromium's software decoder on a busy machine (tests run side by side)
// or a new rendition's decoder starting. Those are allowed up to
// maxStalled in all; a stall with the buffer empty is not.
func TestWatchPageLowLatency(t *testing.T) {
	const maxStalled = 0.5 // seconds
	ll := &watchLlStream{f: loadLLFixture(t), pid: "q2ll7w9xk4m8z3pe"}
	// Joining a stream live for 7 s: three segments and a half are out.
	ll.start = time.Now().Add(-7 * time.Second)
	w := startWatchTestRouted(t, ll.pid, ll.route)
	w.open()
	w.waitState("playing", 15*time.Second)
	s, err := browser.WaitPlayer(w.page, 10*time.Second, func(s browser.PlayerSample) bool {
		return s.LL && s.PDTLatency != nil && s.CurrentTime > 1
	})
	if err != nil {
		t.Fatalf("waiting for LL playback: %v", err)
	}
	if !s.CanBlockReload || s.PartTarget != llPartDuration.Seconds() || s.PartHoldBack != llPartHoldBack {
		t.Errorf("the player read blocking reload %v, part target %g, part hold back %g", s.CanBlockReload, s.PartTarget, s.PartHoldBack)
	}
	if s.TargetLatency == nil || *s.TargetLatency < llPartHoldBack || *s.TargetLatency > llPartHoldBack+1 {
		t.Errorf("target latency %v, want PART-HOLD-BACK %g (+1 s a stall)", s.TargetLatency, llPartHoldBack)
	}

	// Settled: playing along, near the target.
	samples, err := browser.SamplePlayer(w.page, 100*time.Millisecond, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := browser.Summarize(samples)
	t.Logf("steady: %+v", sum)
	if !sum.LL || sum.Played < 2 || sum.EmptyStalls != 0 || sum.Stalled > maxStalled || sum.PDTSamples != sum.Samples {
		t.Errorf("steady LL playback: %+v", sum)
	}
	// PDT latency is PART-HOLD-BACK behind a part that is out once its
	// last frame is: 1.5 s + up to 0.5 s, plus what loading takes. The
	// bound leaves room for a loaded machine, not for 3 target durations.
	if sum.PDTLatencyMedian < llPartHoldBack || sum.PDTLatencyMedian > 3.5 || sum.LatencyMedian > 3 {
		t.Errorf("latency since ingest %.2f s (median; max %.2f), hls.js %.2f s: want about %g s",
			sum.PDTLatencyMedian, sum.PDTLatencyMax, sum.LatencyMedian, llPartHoldBack)
	}

	// Through every rendition, and back: no stall.
	var order []int
	for i := range s.Levels {
		order = append(order, (s.Level+1+i)%s.Levels)
	}
	samples, err = browser.SwitchThrough(w.page, order, browser.SwitchLoad, 2*time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ = browser.Summarize(samples)
	t.Logf("switching through %v: %+v", order, sum)
	if sum.EmptyStalls != 0 || sum.Stalled > maxStalled || sum.FatalErrors != 0 || !sum.LL || len(sum.Heights) != s.Levels {
		t.Errorf("switching through %v: %d stalls with the buffer empty, %.2f s stalled, %d fatal errors, LL %v, heights %v",
			order, sum.EmptyStalls, sum.Stalled, sum.FatalErrors, sum.LL, sum.Heights)
	}
	if sum.Switches < len(order) {
		t.Errorf("%d LEVEL_SWITCHED events switching through %v", sum.Switches, order)
	}

	// The overlay says so.
	w.eval(`document.getElementById('stats-toggle').click()`, "show the stats")
	w.poll(`document.getElementById('stats-ll').textContent === 'on: parts of 0.50 s, blocking reload'`,
		"the overlay to say LL is on", 5*time.Second)

	// hls.js asked for parts and blocked on the playlist.
	parts := w.reqs.count(0, func(r loggedRequest) bool {
		return r.status == http.StatusOK && strings.Count(r.path, ".") == 2 && strings.HasSuffix(r.path, ".m4s")
	})
	blocking := w.reqs.count(0, func(r loggedRequest) bool {
		return r.status == http.StatusOK && strings.HasSuffix(r.path, "/index.m3u8") && strings.Contains(r.query, "_HLS_msn=")
	})
	if parts == 0 || blocking == 0 {
		t.Errorf("hls.js loaded %d parts and %d playlists by blocking reload", parts, blocking)
	}
	w.checkPublicRequests()
}
