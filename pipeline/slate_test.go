package pipeline

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// sendRealTime sends dmx's packets, moved by offset, each when its DTS is
// due on the wall clock, as a publisher would; it returns the last DTS
// sent (after the offset) and does not close out.
func sendRealTime(ctx context.Context, t *testing.T, dmx *codec.Demuxer, out chan<- *media.Packet, offset func(first int64) int64) int64 {
	start := time.Now()
	var first, shift, last int64
	started := false
	for {
		p, err := dmx.ReadPacket()
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Error(err)
			return last
		}
		if !started {
			first, started = p.DTS, true
			shift = offset(first)
		}
		// Pacing a publisher, not waiting for an event.
		if d := time.Until(start.Add(media.Duration(p.DTS - first))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return last
			}
		}
		p.PTS += shift
		p.DTS += shift
		last = max(last, p.DTS)
		select {
		case out <- p:
		case <-ctx.Done():
			return last
		}
	}
}

// slateRun is a live 180p ladder under test, run on its own goroutine;
// it keeps every segment listed.
type slateRun struct {
	g     *Graph
	store *hlsmux.MemoryStore
	in    chan *media.Packet
	done  chan error
	ctx   context.Context

	mu   sync.Mutex
	segs []hlsmux.SegmentInfo
}

func startSlateRun(t *testing.T, slateImage string, in Input) *slateRun {
	t.Helper()
	r := &slateRun{store: hlsmux.NewMemoryStore(), in: make(chan *media.Packet, 64), done: make(chan error, 1)}
	cfg := Config{SegmentDuration: time.Second, KeyframeInterval: time.Second, PlaylistWindow: 100, SlateImage: slateImage,
		Ladder: []Rendition{{Name: "180p", Width: 320, Height: 180, VideoBitrate: 300_000, MaxRate: 330_000, BufSize: 600_000, AudioBitrate: 64_000}}}
	g, err := New(cfg, in, Output{Store: r.store, Type: hlsmux.Live, FirstSeq: 1, Logger: testenv.Logger(t),
		OnSegment: func(_ string, s hlsmux.SegmentInfo) {
			r.mu.Lock()
			r.segs = append(r.segs, s)
			r.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	go func() { r.done <- g.Run(ctx, r.in) }()
	return r
}

// count is the number of segments listed so far.
func (r *slateRun) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.segs)
}

// finish closes the input and waits for the ladder's end.
func (r *slateRun) finish(t *testing.T) []hlsmux.SegmentInfo {
	t.Helper()
	close(r.in)
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.segs
}

// TestSlateBridgesAPublishersAbsence: a live ladder whose publisher leaves
// keeps producing segments on a slate (the last picture and silence) in
// real time, and the next publish, of another size and audio rate,
// continues the same encoders: one run of segment numbers, no
// discontinuity, no end of playlist until the input closes, and audio and
// video without a gap from the first segment to the last.
func TestSlateBridgesAPublishersAbsence(t *testing.T) {
	a := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 3, Audio: true})
	b := testenv.GenerateSource(t, testenv.SourceOptions{Width: 480, Height: 270, FPS: 30, Seconds: 3, Audio: true, AudioRate: 48000})
	da, err := codec.OpenFile(a)
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	db, err := codec.OpenFile(b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	r := startSlateRun(t, "", Input{Video: *da.Video, Audio: da.Audio})
	ctx, in, g, store := r.ctx, r.in, r.g, r.store
	last := sendRealTime(ctx, t, da, in, func(int64) int64 { return 0 })
	in <- &media.Packet{Kind: media.Break}
	gone := time.Now()
	count := r.count
	before := count()
	// The slate must cut segments on time while nobody publishes.
	testenv.WaitFor(t, 10*time.Second, func() bool { return count() >= before+2 }, "two segments of the slate")
	in <- &media.Packet{Kind: media.Break, Params: &media.Params{Video: db.Video, Audio: db.Audio}}
	// The next publish starts where the stream's clock is now, as the
	// live package places it.
	var gap time.Duration
	sendRealTime(ctx, t, db, in, func(first int64) int64 {
		gap = time.Since(gone)
		return last + media.Ticks(gap) - first
	})
	segs := r.finish(t)
	st := g.Stats()
	if st.Slate < int64(gap.Seconds()*30)/2 {
		t.Errorf("%d pictures of slate for a %v absence", st.Slate, gap)
	}
	var total time.Duration
	for i, s := range segs {
		total += s.Duration
		if s.Discontinuity {
			t.Errorf("segment %d is marked discontinuous", s.Seq)
		}
		if i > 0 && s.Seq != segs[i-1].Seq+1 {
			t.Errorf("segment %d follows %d", s.Seq, segs[i-1].Seq)
		}
		if s.Duration > time.Second+100*time.Millisecond {
			t.Errorf("segment %d lasts %v, over its 1 s target", s.Seq, s.Duration)
		}
	}
	want := 6*time.Second + gap
	if d := total - want; d < -time.Second/2 || d > time.Second/2 {
		t.Errorf("segments last %v in all, want %v (3 s, a %v absence, 3 s)", total, want, gap)
	}
	pl, err := store.Get("180p/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if n := countLines(string(pl), "#EXT-X-ENDLIST"); n != 1 {
		t.Errorf("%d ENDLIST in the final playlist", n)
	}

	// One file of every segment: its audio and video run without a gap
	// from the first picture to the last.
	all := concatSegments(t, store, "180p", segs)
	for _, stream := range []string{"v:0", "a:0"} {
		n, span, worst := packetSteps(t, all, stream)
		t.Logf("%s: %d packets over %.2f s, longest step %.3f s", stream, n, span, worst)
		if worst > 0.1 {
			t.Errorf("%s has a gap of %.3f s", stream, worst)
		}
		if d := span - want.Seconds(); d < -0.5 || d > 0.5 {
			t.Errorf("%s spans %.2f s, want %.2f s", stream, span, want.Seconds())
		}
	}
}

// concatSegments writes the segments of dir in store, in order, into one
// file and returns its path.
func concatSegments(t *testing.T, store hlsmux.Store, dir string, segs []hlsmux.SegmentInfo) string {
	t.Helper()
	all := filepath.Join(t.TempDir(), "all.ts")
	f, err := os.Create(all)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range segs {
		data, err := store.Get(dir + "/" + s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// packetSteps reads one stream of path with ffprobe: how many packets, the
// time from the first DTS to the last, and the longest step between two.
func packetSteps(t *testing.T, path, stream string) (n int, span, longest float64) {
	t.Helper()
	pkts := testenv.ProbePackets(t, path, stream)
	if len(pkts) == 0 {
		t.Fatalf("no %s packets", stream)
	}
	var first, prev float64
	for i, p := range pkts {
		ts, _ := strconv.ParseFloat(p.DTSTime, 64)
		if i == 0 {
			first = ts
		} else {
			longest = max(longest, ts-prev)
		}
		prev = ts
	}
	return len(pkts), prev - first, longest
}

func countLines(s, prefix string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

// TestSlateImage: with Config.SlateImage, the slate is the operator's
// picture (here a red PNG of another size than the stream), scaled to the
// rendition, not the last picture of the stream.
func TestSlateImage(t *testing.T) {
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	img := filepath.Join(t.TempDir(), "slate.png")
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=640x480",
		"-frames:v", "1", img).CombinedOutput(); err != nil {
		t.Fatalf("make the slate: %v\n%s", err, out)
	}
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Audio: true})
	dmx, err := codec.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer dmx.Close()
	r := startSlateRun(t, img, Input{Video: *dmx.Video, Audio: dmx.Audio})
	sendRealTime(r.ctx, t, dmx, r.in, func(int64) int64 { return 0 })
	before := r.count()
	r.in <- &media.Packet{Kind: media.Break}
	testenv.WaitFor(t, 10*time.Second, func() bool { return r.count() >= before+3 }, "three segments of the slate")
	slate := r.finish(t)[before+1] // wholly after the publisher left
	store := r.store
	data, err := store.Get("180p/" + slate.Name)
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(t.TempDir(), "slate.ts")
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The segment's pictures, each averaged to one pixel: the last.
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-i", seg,
		"-vf", "scale=1:1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) < 3 {
		t.Fatalf("read the slate's colour: %v (%d bytes)", err, len(out))
	}
	out = out[len(out)-3:]
	if r, gr, b := out[0], out[1], out[2]; r < 200 || gr > 60 || b > 60 {
		t.Errorf("the slate's colour is rgb(%d,%d,%d), want the image's red", r, gr, b)
	}
}

// TestSlateAudioOnly: an audio-only stream whose publisher leaves keeps
// cutting segments of silence in real time, and the next publish
// continues them: no gap in the audio from the first segment to the last.
func TestSlateAudioOnly(t *testing.T) {
	a, ps := adtsPackets(t, 2)
	store := hlsmux.NewMemoryStore()
	var mu sync.Mutex
	var segs []hlsmux.SegmentInfo
	g, err := NewAudioOnly(Config{SegmentDuration: time.Second, KeyframeInterval: time.Second}, a, Output{Store: store, Type: hlsmux.Live, FirstSeq: 1, Logger: testenv.Logger(t),
		OnSegment: func(_ string, s hlsmux.SegmentInfo) {
			mu.Lock()
			segs = append(segs, s)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := make(chan *media.Packet, 64)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, in) }()
	send := func(shift int64) int64 {
		start, first, last := time.Now(), ps[0].DTS, int64(0)
		for _, p := range ps {
			// Pacing a publisher, not waiting for an event.
			time.Sleep(time.Until(start.Add(media.Duration(p.DTS - first))))
			q := *p
			q.DTS += shift
			q.PTS += shift
			last = q.DTS
			in <- &q
		}
		return last
	}
	last := send(0)
	in <- &media.Packet{Kind: media.Break}
	gone := time.Now()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(segs) }
	before := count()
	testenv.WaitFor(t, 10*time.Second, func() bool { return count() >= before+2 }, "two segments of silence")
	in <- &media.Packet{Kind: media.Break, Params: &media.Params{Audio: &a}}
	send(last + media.Ticks(time.Since(gone)) - ps[0].DTS)
	close(in)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for i, s := range segs {
		if (i > 0 && s.Seq != segs[i-1].Seq+1) || s.Discontinuity {
			t.Errorf("segment %d (discontinuity %v) is not the next of one run", s.Seq, s.Discontinuity)
		}
	}
	all := concatSegments(t, store, AudioOnlyName, segs)
	mu.Unlock()
	n, _, worst := packetSteps(t, all, "a:0")
	t.Logf("%d AAC frames, longest step %.3f s", n, worst)
	if worst > 0.1 {
		t.Errorf("the audio has a gap of %.3f s", worst)
	}
}
