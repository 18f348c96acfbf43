package live

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

var partLine = regexp.MustCompile(`(?m)^#EXT-X-PART:DURATION=([0-9.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$`)

// TestPublishLowLatency publishes in real time to a two-rendition ladder
// written as LL-HLS: every rendition lists the same parts (names,
// durations, independence: aligned), the Edge follows each playlist,
// program date-times are the frames' arrival, and part latencies are
// measured.
func TestPublishLowLatency(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.HLS = pipeline.HLSConfig{Format: "fmp4", PartTarget: 500 * time.Millisecond}
	cfg.Pipeline.Ladder = []pipeline.Rendition{
		{Name: "180p", Width: 320, Height: 180, VideoBitrate: 300_000, AudioBitrate: 64_000},
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, AudioBitrate: 96_000},
	}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := channel(1)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	video, audio, packets := source(t)
	start := time.Now()
	// Halfway, a viewer blocks on the next part of 360p: answered when
	// it is listed.
	blocked := make(chan hlsmux.WaitResult, 1)
	go func() {
		testenv.WaitFor(t, 10*time.Second, func() bool { _, ok := m.Edge(ch.PlaybackID); return ok }, "the stream's edge")
		edge, _ := m.Edge(ch.PlaybackID)
		var pos hlsmux.Position
		testenv.WaitFor(t, 10*time.Second, func() bool { p, ok := edge.Position("360p"); pos = p; return ok }, "a first part")
		msn, part := pos.MSN, pos.Part+1
		if pos.Complete {
			msn, part = msn+1, 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := edge.Wait(ctx, "360p", msn, part)
		if err != nil {
			t.Errorf("blocked on part %d.%d: %v", msn, part, err)
		}
		if now, _ := edge.Position("360p"); !now.Has(msn, part) {
			t.Errorf("woken at %+v, before part %d.%d", now, msn, part)
		}
		blocked <- r
	}()
	publishRealTime(t, s, video, audio, packets)
	if r := <-blocked; r != hlsmux.Ready {
		t.Errorf("blocked request ended %v, want Ready", r)
	}
	end := time.Now()

	st, _ := m.Lookup(ch.PlaybackID)
	var lists [][]string
	for _, r := range []string{"180p", "360p"} {
		pl := get(t, st, r+"/index.m3u8")
		for _, tag := range []string{"#EXT-X-VERSION:9", "#EXT-X-PART-INF:PART-TARGET=0.500", "CAN-BLOCK-RELOAD=YES", "#EXT-X-MAP:URI=\"init-", "#EXT-X-ENDLIST"} {
			if !bytes.Contains(pl, []byte(tag)) {
				t.Errorf("%s playlist lacks %s:\n%s", r, tag, pl)
			}
		}
		var parts []string
		for _, m := range partLine.FindAllSubmatch(pl, -1) {
			parts = append(parts, string(m[1])+" "+string(m[2])+string(m[3]))
			if _, err := st.Get(r + "/" + string(m[2])); err != nil {
				t.Errorf("%s lists part %s: %v", r, m[2], err)
			}
		}
		if len(parts) < 6 {
			t.Fatalf("%s lists %d parts of a 5 s stream:\n%s", r, len(parts), pl)
		}
		lists = append(lists, parts)
		// Each segment's date is when its first frame arrived.
		for _, line := range strings.Split(string(pl), "\n") {
			if v, ok := strings.CutPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"); ok {
				at, err := time.Parse("2006-01-02T15:04:05.000Z", v)
				if err != nil || at.Before(start.Add(-time.Second)) || at.After(end) {
					t.Errorf("%s: EXT-X-PROGRAM-DATE-TIME %s (%v), publish ran %v to %v", r, v, err, start, end)
				}
			}
		}
	}
	if !slices.Equal(lists[0], lists[1]) {
		t.Errorf("renditions' parts are not aligned:\n180p %q\n360p %q", lists[0], lists[1])
	}
	if l := m.PartLatency(); l.Count < 10 || l.P50 <= 0 || l.P99 > 2 {
		t.Errorf("part latency %+v", l)
	}
	t.Logf("part latency %+v, segment latency %+v", m.PartLatency(), m.SegmentLatency())
}

// TestPublishWhileEnding: a publish of a channel whose stream is ending
// (an LL-HLS stream holds its last parts in the playlist for a part target
// before EXT-X-ENDLIST) waits for the end and starts the next stream,
// rather than being refused as already live.
func TestPublishWhileEnding(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.HLS = pipeline.HLSConfig{Format: "fmp4", PartTarget: 500 * time.Millisecond}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	ch := channel(1)
	first, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	video, audio, packets := source(t)
	if err := first.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		if err := first.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	old := first.Stream()
	ended := make(chan struct{})
	go func() { first.End(nil); close(ended) }()
	testenv.WaitFor(t, 10*time.Second, old.ending.Load, "the stream ending")
	if old.isEnded() {
		t.Fatal("the stream ended before the next publish: nothing tested")
	}
	second, err := m.Publish(ch, "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatalf("publish while the channel's stream was ending: %v", err)
	}
	if !old.isEnded() || second.Stream() == old {
		t.Errorf("the publish did not wait for the old stream's end (ended %v, same stream %v)", old.isEnded(), second.Stream() == old)
	}
	<-ended
	second.End(nil)
}
