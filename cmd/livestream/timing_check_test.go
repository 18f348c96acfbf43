package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/pipeline"
)

// findings collects the failures of one check over many segments, so that
// a check failing everywhere reports once, with its first examples.
type findings struct {
	order []string
	by    map[string][]string
}

func (f *findings) add(check, format string, args ...any) {
	if f.by == nil {
		f.by = map[string][]string{}
	}
	if _, ok := f.by[check]; !ok {
		f.order = append(f.order, check)
	}
	f.by[check] = append(f.by[check], fmt.Sprintf(format, args...))
}

// report fails t once per check that failed, with up to 4 examples, and
// how many failed of the total checked (units: "segments").
func (f *findings) report(t *testing.T, what string, total int, units string) {
	t.Helper()
	for _, check := range f.order {
		all := f.by[check]
		ex := all[:min(len(all), 4)]
		more := ""
		if len(all) > len(ex) {
			more = fmt.Sprintf("\n    … and %d more", len(all)-len(ex))
		}
		t.Errorf("%s: %s: %d of %d %s:\n    %s%s", what, check, len(all), total, units, strings.Join(ex, "\n    "), more)
	}
}

// checkTimedStream checks what the observer saw of one stream.
func checkTimedStream(t *testing.T, cfg pipeline.Config, c timingCase, pub *livePublish, log *streamLog) {
	t.Helper()
	// The server ends the playlists when the publisher has gone, which
	// is about when its process exits.
	select {
	case <-pub.done:
		switch {
		case pub.err != nil:
			t.Errorf("the publisher failed: %v\n%s", pub.err, pub.output)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the publisher is still running 10 s after its playlists ended")
	}
	for _, p := range log.problems {
		t.Errorf("observer: %s", p)
	}
	checkFrameRateField(t, log, c.fps)

	frame := float64(ticksPerSecond) / float64(c.fps) // ticks; exact at 25, 30, 50, 60 fps
	var targets []string
	for _, r := range log.renditions {
		// A 14 s publish cut every 2 s is 7 segments, the last maybe
		// short; 2 fewer means the stream stopped or started late.
		if want := c.seconds/int(cfg.SegmentDuration/time.Second) - 2; len(r.segs) < want {
			t.Errorf("%s: %d segments of a %d s publish, want at least %d", r.name, len(r.segs), c.seconds, want)
		}
		targets = append(targets, fmt.Sprintf("%s %v", r.name, compactInts(r.targets)))
		checkRendition(t, cfg, c, frame, r)
	}
	// RFC 8216 §6.2.1: EXT-X-TARGETDURATION must not change; and one
	// value for the whole ladder.
	var all []int
	for _, r := range log.renditions {
		all = append(all, r.targets...)
	}
	if len(all) == 0 {
		t.Errorf("no media playlist was read")
	} else if slices.Min(all) != slices.Max(all) {
		t.Errorf("EXT-X-TARGETDURATION changed between polls (value×polls, in order): %s", strings.Join(targets, "; "))
	}
}

// compactInts writes runs of equal values as value×count.
func compactInts(v []int) string {
	var parts []string
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j] == v[i] {
			j++
		}
		parts = append(parts, fmt.Sprintf("%d×%d", v[i], j-i))
		i = j
	}
	return strings.Join(parts, " ")
}

// checkRendition checks each segment of one rendition, and the keyframes
// and timestamps across them.
func checkRendition(t *testing.T, cfg pipeline.Config, c timingCase, frame float64, r *renditionLog) {
	t.Helper()
	var f findings
	maxExtinf := cfg.SegmentDuration.Seconds() + 1/float64(c.fps) + 0.0005 // EXTINF has 3 decimals
	var prev *fetchedSegment
	type keyframe struct {
		seq int64
		pts int64
	}
	var keys []keyframe
	for _, sg := range r.segs {
		name := fmt.Sprintf("%d.ts", sg.seq)
		if sg.probeErr != nil {
			f.add("segment unreadable", "%s: %v", name, sg.probeErr)
			prev = nil
			continue
		}
		p := sg.packets
		if len(p) == 0 {
			f.add("segment without video", "%s (%d bytes)", name, sg.size)
			prev = nil
			continue
		}
		pts := make([]int64, len(p))
		for i, pk := range p {
			pts[i] = pk.PTS
		}
		slices.Sort(pts)
		first, last := pts[0], pts[len(pts)-1]

		// Decode order: DTS strictly increasing, never after its PTS.
		for i := 1; i < len(p); i++ {
			if p[i].DTS <= p[i-1].DTS {
				f.add("DTS not strictly increasing", "%s: packet %d has DTS %d after %d (%+d ticks)", name, i, p[i].DTS, p[i-1].DTS, p[i].DTS-p[i-1].DTS)
				break
			}
		}
		for i, pk := range p {
			if pk.PTS < pk.DTS {
				f.add("PTS before DTS", "%s: packet %d has PTS %d < DTS %d", name, i, pk.PTS, pk.DTS)
				break
			}
		}
		// Presentation order: no two frames at one PTS.
		if dups := duplicates(pts); len(dups) > 0 {
			f.add("PTS repeated", "%s: %d of %d frames share a PTS with another, e.g. PTS %v; PTS steps %s",
				name, len(dups), len(p), dups[:min(len(dups), 4)], stepSummary(pts))
		}
		// The segment starts with a keyframe, which is also its first
		// picture shown.
		if !p[0].Key || p[0].PTS != first {
			f.add("segment does not start with a keyframe", "%s: first packet keyframe=%v PTS %d, lowest PTS %d", name, p[0].Key, p[0].PTS, first)
		}
		// One frame per 1/fps of EXTINF.
		if want := sg.extinf * float64(c.fps); math.Abs(float64(len(p))-want) > 1 {
			f.add("frame count ≠ EXTINF × fps", "%s: %d frames in EXTINF %.3f s, want %.1f ± 1 at %d fps", name, len(p), sg.extinf, want, c.fps)
		}
		// EXTINF is the video's duration: its PTS span and one frame.
		span := (float64(last-first) + frame) / ticksPerSecond
		if math.Abs(sg.extinf-span) > 0.1 {
			f.add("EXTINF ≠ PTS span + 1 frame", "%s: EXTINF %.3f s, PTS %d to %d + 1 frame = %.3f s", name, sg.extinf, first, last, span)
		}
		if sg.extinf > maxExtinf {
			f.add("EXTINF above SegmentDuration + 1 frame", "%s: EXTINF %.3f s > %.3f s", name, sg.extinf, maxExtinf)
		}
		// Across a segment boundary the timestamps go on increasing.
		if prev != nil && prev.seq == sg.seq-1 {
			pp := prev.packets
			prevLast := slices.Max(ptsOf(pp))
			if first <= prevLast {
				f.add("PTS back across a segment boundary", "%d.ts starts at PTS %d, %d.ts ended at %d", sg.seq, first, prev.seq, prevLast)
			}
			if p[0].DTS <= pp[len(pp)-1].DTS {
				f.add("DTS back across a segment boundary", "%d.ts starts at DTS %d, %d.ts ended at %d", sg.seq, p[0].DTS, prev.seq, pp[len(pp)-1].DTS)
			}
		}
		if prev == nil || prev.seq != sg.seq-1 {
			keys = append(keys, keyframe{seq: -1}) // a gap: no spacing across it
		}
		var segKeys []int64
		for _, pk := range p {
			if pk.Key {
				segKeys = append(segKeys, pk.PTS)
			}
		}
		slices.Sort(segKeys)
		for _, k := range segKeys {
			keys = append(keys, keyframe{seq: sg.seq, pts: k})
		}
		prev = sg
	}
	// Keyframes exactly KeyframeInterval apart: 90 000 ticks, ±1 for
	// rounding (none at 25, 30, 50 or 60 fps, whose frames are whole ticks).
	interval := int64(cfg.KeyframeInterval.Seconds() * ticksPerSecond)
	var kf findings
	checked := 0
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if a.seq < 0 || b.seq < 0 {
			continue
		}
		checked++
		if d := b.pts - a.pts; d < interval-1 || d > interval+1 {
			kf.add(fmt.Sprintf("keyframes not %v apart", cfg.KeyframeInterval), "keyframe at PTS %d (%d.ts) is %d ticks (%.4f s) after the one at %d",
				b.pts, b.seq, d, float64(d)/ticksPerSecond, a.pts)
		}
	}
	if checked == 0 && len(r.segs) > 0 {
		f.add("no keyframe spacing to check", "%d segments, keyframes %v", len(r.segs), keys)
	}
	f.report(t, r.name, len(r.segs), "segments")
	kf.report(t, r.name, checked, "keyframe intervals")
}

func ptsOf(p []videoPacket) []int64 {
	v := make([]int64, len(p))
	for i, pk := range p {
		v[i] = pk.PTS
	}
	return v
}

// duplicates returns the values that occur more than once in sorted.
func duplicates(sorted []int64) []int64 {
	var d []int64
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] && (len(d) == 0 || d[len(d)-1] != sorted[i]) {
			d = append(d, sorted[i])
		}
	}
	return d
}

// stepSummary counts the differences between consecutive sorted PTS
// ("3000×58 0×2"), which shows a frame grid or its absence at a glance.
func stepSummary(sorted []int64) string {
	count := map[int64]int{}
	var steps []int64
	for i := 1; i < len(sorted); i++ {
		d := sorted[i] - sorted[i-1]
		if count[d] == 0 {
			steps = append(steps, d)
		}
		count[d]++
	}
	slices.SortFunc(steps, func(a, b int64) int { return count[b] - count[a] })
	var parts []string
	for _, d := range steps[:min(len(steps), 6)] {
		parts = append(parts, fmt.Sprintf("%d×%d", d, count[d]))
	}
	return strings.Join(parts, " ")
}

// checkFrameRateField checks the frame rate the admin API reports of the
// live stream.
func checkFrameRateField(t *testing.T, log *streamLog, fps int) {
	t.Helper()
	want := fmt.Sprintf("%d/1", fps)
	if log.adminCode != 200 {
		t.Errorf("GET /api/streams/{playback id} while live: status %d: %s", log.adminCode, log.admin)
		return
	}
	var info map[string]any
	if err := json.Unmarshal(log.admin, &info); err != nil {
		t.Errorf("GET /api/streams/{playback id}: %v: %s", err, log.admin)
		return
	}
	// ---- frame_rate: the stream's frame rate, the rate of the frame
	// clock in front of the encoders ("30/1"), added to live.Info with it.
	got, ok := info["frame_rate"]
	switch {
	case !ok:
		t.Errorf(`frame_rate: GET /api/streams/{playback id} has no "frame_rate" field (want %q; "video" says %q)`, want, info["video"])
	case got != want:
		t.Errorf(`frame_rate: GET /api/streams/{playback id} says "frame_rate": %#v, want %q (the publisher's rate)`, got, want)
	}
}

// ptsWarning is the message x264 logs, through FFmpeg, when it is given a
// frame whose PTS is not above the previous frame's.
const ptsWarning = "non-strictly-monotonic PTS"

var logTimeRe = regexp.MustCompile(`(?:^|\s)time=(\S+)`)

// checkNoPTSWarnings fails if logs have a ptsWarning. FFmpeg's log lines
// name no stream, so the warnings are counted by the set of publishers
// that were live when each was logged, with one line of each set.
func checkNoPTSWarnings(t *testing.T, logs string, streams []*timedStream) {
	t.Helper()
	var sets []string
	count, example := map[string]int{}, map[string]string{}
	n := 0
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, ptsWarning) {
			continue
		}
		n++
		var live []string
		if m := logTimeRe.FindStringSubmatch(line); m != nil {
			if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				for _, st := range streams {
					// Until 5 s after the publisher's exit: the encoders
					// flush what they hold.
					from, to := st.pub.window()
					if !from.IsZero() && !at.Before(from.Truncate(time.Millisecond)) && (to.IsZero() || at.Before(to.Add(5*time.Second))) {
						live = append(live, st.name)
					}
				}
			}
		}
		set := strings.Join(live, ", ")
		if count[set] == 0 {
			sets = append(sets, set)
			example[set] = strings.TrimSpace(line)
		}
		count[set]++
	}
	if n == 0 {
		return
	}
	var by []string
	for _, set := range sets {
		by = append(by, fmt.Sprintf("%d while %s were live, e.g.\n        %s", count[set], set, example[set]))
	}
	t.Errorf("the server logged %q %d times; x264 was given pictures whose PTS did not increase:\n    %s",
		ptsWarning, n, strings.Join(by, "\n    "))
}
