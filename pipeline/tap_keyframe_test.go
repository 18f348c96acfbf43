package pipeline

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

const (
	twoSeconds = 2 * media.ClockRate
	frame30    = media.ClockRate / 30
)

// keyTimes returns the tap's packets' PTS in order, the keyframes' among
// them, both relative to the first picture.
func keyTimes(o *tapOutput) (pts, keys []int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	first := o.packets[0].PTS
	for _, p := range o.packets {
		first = min(first, p.PTS)
	}
	for _, p := range o.packets {
		pts = append(pts, p.PTS-first)
		if p.Keyframe {
			keys = append(keys, p.PTS-first)
		}
	}
	slices.Sort(pts)
	slices.Sort(keys)
	return pts, keys
}

// TestTapKeyframesOnTimeWhileDropping: the tap's consumer blocks for over
// 3 s of stream, so the queue drops most pictures, two of them due to be
// keyframes. Every keyframe still falls on a multiple of 2 s, no GOP is
// longer than 2 s and a frame, and ffprobe decodes the result.
func TestTapKeyframesOnTimeWhileDropping(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 8, Format: "flv"})
	cfg := Config{SegmentDuration: 2 * time.Second,
		Ladder: []Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}}}
	// The ladder's second segment is written when its 4 s keyframe is out
	// of x264: by then every picture up to 4 s has been offered to the tap.
	past4s, ran := make(chan struct{}), make(chan struct{})
	var segments atomic.Int64
	f, err := OpenFile(src, cfg, Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, FirstSeq: 1,
		OnSegment: func(string, hlsmux.SegmentInfo) {
			if segments.Add(1) == 2 {
				close(past4s)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out tapOutput
	var first int64
	blocked := false
	tap, err := f.AddTap(TapConfig{Name: "twitch", Width: 320, Height: 180, Bitrate: 300_000, Queue: 8,
		Emit: func(p *media.Packet) {
			out.emit(p)
			if len(out.packets) == 1 {
				first = p.PTS
			}
			if !blocked && p.PTS >= first+frame30*9 {
				blocked = true
				select { // a slow relay, from 0.3 s until the ladder is past 4 s
				case <-past4s:
				case <-ran:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	err = f.Run(context.Background())
	close(ran)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tap.Done():
	case <-time.After(time.Minute):
		t.Fatal("the tap did not end after the graph")
	}
	if err := tap.Err(); err != nil {
		t.Fatal(err)
	}
	if !blocked || segments.Load() < 2 {
		t.Fatalf("the tap's consumer never blocked (%d ladder segments)", segments.Load())
	}
	if tap.Dropped() < 60 {
		t.Errorf("dropped %d pictures, want over 2 s of them", tap.Dropped())
	}
	pts, keys := keyTimes(&out)
	t.Logf("%d pictures encoded, %d dropped, keyframes at %v", len(pts), tap.Dropped(), keys)
	if want := []int64{0, twoSeconds, 2 * twoSeconds, 3 * twoSeconds}; len(keys) != len(want) {
		t.Errorf("keyframes at %v ticks, want at %v", keys, want)
	}
	for i, k := range keys {
		if off := k - (k+twoSeconds/2)/twoSeconds*twoSeconds; off < -frame30 || off > frame30 {
			t.Errorf("keyframe at %d ticks: %d from a multiple of 2 s", k, off)
		}
		end := pts[len(pts)-1] + frame30
		if i+1 < len(keys) {
			end = keys[i+1]
		}
		if end-k > twoSeconds+frame30 {
			t.Errorf("GOP from %d to %d ticks: longer than 2 s and a frame", k, end)
		}
	}
	// The test is only worth its name if pictures either side of a
	// keyframe time were dropped.
	gapAtKey := false
	for i := 1; i < len(pts); i++ {
		if slices.Contains(keys, pts[i]) && pts[i]-pts[i-1] > 2*frame30 {
			gapAtKey = true
		}
	}
	if !gapAtKey {
		t.Errorf("no pictures were dropped before a keyframe: %v", pts)
	}
	frames := testenv.ProbeFrames(t, out.write(t), "v:0")
	decodedKeys := 0
	for _, fr := range frames {
		decodedKeys += fr.KeyFrame
	}
	if int64(len(frames)) != tap.Encoded() || decodedKeys != len(keys) {
		t.Errorf("ffprobe decodes %d frames, %d keyframes; the tap encoded %d, %d keyframes", len(frames), decodedKeys, tap.Encoded(), len(keys))
	}
}

// TestTapKeyframesEvery60Frames: with nothing dropped, a 30 fps tap has a
// keyframe exactly every 60 pictures, as x264's own count would put them.
func TestTapKeyframesEvery60Frames(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 6, Format: "flv"})
	cfg := Config{Ladder: []Rendition{{Name: "180p", Width: 320, Height: 180, VideoBitrate: 300_000, MaxRate: 330_000, BufSize: 600_000, AudioBitrate: 64_000}}}
	var out tapOutput
	_, tap := runWithTap(t, src, cfg, TapConfig{Name: "twitch", Width: 320, Height: 180, Bitrate: 300_000, Emit: out.emit,
		Queue: 180}) // a file decodes faster than real time: room for all of it
	pts, keys := keyTimes(&out)
	if len(pts) != 180 || tap.Dropped() != 0 {
		t.Fatalf("%d pictures encoded, %d dropped, want 180 and none", len(pts), tap.Dropped())
	}
	for i, p := range pts {
		if want := i%60 == 0; slices.Contains(keys, p) != want {
			t.Errorf("picture %d (%d ticks): keyframe %v, want one every 60 pictures", i, p, !want)
		}
	}
}

// TestKeyClock: the first picture at or past each multiple of the interval
// starts a GOP, with a quarter frame of slack for millisecond timestamps.
func TestKeyClock(t *testing.T) {
	ms := func(v int64) int64 { return v * media.ClockRate / 1000 }
	cases := []struct {
		name string
		pts  []int64 // in ms
		want []int64 // the keyframes' pts, in ms
	}{
		{"every picture", []int64{0, 33, 1967, 2000, 2033, 3967, 4000}, []int64{0, 2000, 4000}},
		{"a millisecond early", []int64{0, 1999, 2033, 3999}, []int64{0, 1999, 3999}},
		{"late start", []int64{500, 2467, 2500, 4500}, []int64{500, 2500, 4500}},
		{"drops around 2 s", []int64{0, 1900, 2100, 2133, 4000}, []int64{0, 2100, 4000}},
		{"a gap keeps the grid", []int64{0, 1000, 9100, 9133, 9967, 10000}, []int64{0, 9100, 10000}},
		{"timestamps restart", []int64{0, 2000, 4000, 100, 133, 2100}, []int64{0, 2000, 4000, 100, 2100}},
	}
	for _, c := range cases {
		k := keyClock{interval: ms(2000), slack: frame30 / 4}
		var got []int64
		for _, p := range c.pts {
			if k.due(ms(p)) {
				k.start(ms(p))
				got = append(got, p)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: keyframes at %v ms, want %v", c.name, got, c.want)
		}
	}
}
