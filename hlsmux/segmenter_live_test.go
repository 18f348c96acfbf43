package hlsmux

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/media"
)

// TestSegmenterLiveWindowAndGrace follows a live playlist with a clock that
// runs with the media: a segment that left the window stays in the store
// for Grace, then goes at the next cut.
func TestSegmenterLiveWindowAndGrace(t *testing.T) {
	start := int64(media.ClockRate)
	video := synthVideo(start, 24, fps, false)
	st := NewMemoryStore()
	base := time.Unix(1700000000, 0)
	now := base
	cut := 0
	s, err := NewSegmenter(SegmenterConfig{Dir: "720p", Store: st, Type: Live, TargetDuration: 2 * time.Second, Window: 3,
		Grace: 5 * time.Second, FirstSeq: 0, Video: true, FrameDuration: frameTicks,
		Now: func() time.Time { return now },
		OnSegment: func(info SegmentInfo) {
			// Cut n happens at the keyframe of (n+1)×2 s. Segment j leaves
			// the window at cut j+3 and is deleted at the first cut 5 s
			// later: cut j+6.
			if info.Seq != int64(cut) {
				t.Errorf("cut %d: segment %d", cut, info.Seq)
			}
			pl, err := st.Get("720p/index.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			first := max(cut-2, 0)
			if !strings.Contains(string(pl), fmt.Sprintf("#EXT-X-MEDIA-SEQUENCE:%d\n", first)) ||
				!strings.HasSuffix(string(pl), fmt.Sprintf("%d.ts\n", cut)) || strings.Count(string(pl), "#EXTINF") != cut-first+1 {
				t.Errorf("cut %d: playlist\n%s", cut, pl)
			}
			for j := 0; j <= cut; j++ {
				_, err := st.Get(fmt.Sprintf("720p/%d.ts", j))
				if stored, want := err == nil, j > cut-6; stored != want {
					t.Errorf("cut %d: segment %d stored %v, want %v", cut, j, stored, want)
				}
			}
			cut++
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range video {
		now = base.Add(media.Duration(v.PTS - start))
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if cut != 12 {
		t.Errorf("%d segments cut, want 12", cut)
	}
	pl, _ := st.Get("720p/index.m3u8")
	golden(t, "segmenter-live-closed", pl)
}

// TestSegmenterDiscontinuity: the encoder restarts mid-GOP with timestamps
// that go back. The segment before ends with its last frame, the first
// after starts at the next keyframe with EXT-X-DISCONTINUITY, and once it
// leaves the window the discontinuity sequence counts it.
func TestSegmenterDiscontinuity(t *testing.T) {
	oldStart, newStart := int64(10*media.ClockRate), int64(media.ClockRate)
	oldVideo := synthVideo(oldStart, 4.5, fps, false)
	newVideo := synthVideo(newStart, 8, fps, false)[25:] // five frames before its next IDR
	oldAudio, newAudio := synthAudio(oldStart, 4.5), synthAudio(newStart+25*frameTicks, 7)
	for i, a := range newAudio {
		binary.BigEndian.PutUint32(a.Data, uint32(len(oldAudio)+i))
	}
	audio := append(slices.Clone(oldAudio), newAudio...)
	st := NewMemoryStore()
	var c collect
	var withTag []byte
	s, err := NewSegmenter(SegmenterConfig{Dir: "a", Store: st, Type: Live, Window: 3, TargetDuration: 2 * time.Second,
		Video: true, Audio: stereo48k, FrameDuration: frameTicks, OnSegment: func(i SegmentInfo) {
			c.add(i)
			if len(c.infos) == 5 {
				withTag, _ = st.Get("a/index.m3u8")
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, oldVideo, oldAudio, media.ClockRate/3)
	s.Discontinuity()
	feed(t, s, newVideo, newAudio, media.ClockRate/3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.DroppedVideo() != 5 {
		t.Errorf("dropped %d video packets, want the 5 before the new timeline's IDR", s.DroppedVideo())
	}
	type seg struct {
		start int64
		dur   time.Duration
		disc  bool
	}
	want := []seg{
		{oldStart, 2 * time.Second, false},
		{oldStart + 2*media.ClockRate, 2 * time.Second, false},
		{oldStart + 4*media.ClockRate, 500 * time.Millisecond, false}, // ends with its last frame
		{newStart + media.ClockRate, 2 * time.Second, true},
		{newStart + 3*media.ClockRate, 2 * time.Second, false},
		{newStart + 5*media.ClockRate, 2 * time.Second, false},
		{newStart + 7*media.ClockRate, time.Second, false},
	}
	var got []seg
	for _, i := range c.infos {
		got = append(got, seg{i.StartPTS, i.Duration, i.Discontinuity})
	}
	if !slices.Equal(got, want) {
		t.Errorf("segments\n%+v\nwant\n%+v", got, want)
	}
	all := readSegments(t, st, "a", c.infos) // the grace period (20 s) keeps the evicted ones
	for _, sg := range all {
		checkVideoSegment(t, sg, map[int64]bool{sg.info.StartPTS: true, sg.info.StartPTS + media.ClockRate: true})
	}
	frames := checkAudioPES(t, all, audio, maxAudioPerPES)
	for _, f := range frames {
		if old := f.index < len(oldAudio); old != (f.seg < 3) {
			t.Errorf("audio frame %d (old timeline %v) in segment %d", f.index, old, f.seg)
		}
	}
	// All the old timeline's audio is in the old segments; the new one's
	// before its first IDR is dropped.
	before := 0
	for _, a := range newAudio {
		if a.PTS < newStart+media.ClockRate {
			before++
		}
	}
	if n := len(audio) - len(frames); n != s.DroppedAudio() || n != before {
		t.Errorf("%d audio frames missing, %d counted as dropped, want the %d before the new IDR", n, s.DroppedAudio(), before)
	}
	golden(t, "segmenter-discontinuity", withTag)
	pl, _ := st.Get("a/index.m3u8")
	golden(t, "segmenter-discontinuity-left", pl)
}
