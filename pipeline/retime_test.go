package pipeline

import (
	"errors"
	"io"
	"testing"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// decodedPicture decodes the first picture of a generated w×h source.
func decodedPicture(tb testing.TB, w, h int) *codec.Frame {
	tb.Helper()
	src := testenv.GenerateSource(tb, testenv.SourceOptions{Width: w, Height: h, FPS: 30, Seconds: 1})
	dmx, err := codec.OpenFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer dmx.Close()
	dec, err := codec.NewVideoDecoder(*dmx.Video, 1)
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	var pic *codec.Frame
	keep := func(f *codec.Frame) error {
		if pic == nil {
			pic = f
			return nil
		}
		f.Release()
		return nil
	}
	for pic == nil {
		p, err := dmx.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if p.Kind == media.Video {
			if err := dec.Decode(p, keep); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if pic == nil {
		if err := dec.Flush(keep); err != nil || pic == nil {
			tb.Fatalf("no picture decoded (%v)", err)
		}
	}
	return pic
}

func liveGraph(tb testing.TB, w, h int) *Graph {
	tb.Helper()
	g, err := New(Config{}, Input{Video: media.VideoParams{Codec: media.H264, Width: w, Height: h, FrameRate: media.Rational{Num: 30, Den: 1}}},
		Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, Logger: testenv.Logger(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// BenchmarkRetimer is the frame clock's cost per picture of a live 720p30
// stream with ±1 ms of jitter: placing it, keeping a reference for holes,
// timing it and checking the lag budget, on a real decoded picture. The
// core_% metric is that cost at 30 pictures a second, as a share of one
// core. BenchmarkRetimerBaseline is the reference a picture already cost
// without the clock (its fan-out clone and release).
func BenchmarkRetimer(b *testing.B) {
	pic := decodedPicture(b, 1280, 720)
	defer pic.Release()
	r := newRetimer(liveGraph(b, 1280, 720))
	defer r.close()
	send := func(p picture) error { p.f.Release(); return nil }
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		f := pic.Clone()
		f.SetPTS(outputOffset + n*3000 + (n%3-1)*90)
		n++
		if err := r.push(f, send); err != nil {
			b.Fatal(err)
		}
	}
	reportCoreShare(b)
}

func BenchmarkRetimerBaseline(b *testing.B) {
	pic := decodedPicture(b, 1280, 720)
	defer pic.Release()
	b.ReportAllocs()
	for b.Loop() {
		pic.Clone().Release()
	}
	reportCoreShare(b)
}

func reportCoreShare(b *testing.B) {
	perPicture := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perPicture*30/1e9*100, "core_%")
}

// TestRetimerKeyframesOnTheClock: pictures with jittered, repeated and
// missing timestamps come out strictly increasing on the 30 fps grid, a
// hole is filled with the picture before it, and keyframes fall exactly
// every KeyframeInterval of stream time.
func TestRetimerKeyframesOnTheClock(t *testing.T) {
	pic := decodedPicture(t, 320, 240)
	defer pic.Release()
	r := newRetimer(liveGraph(t, 320, 240))
	defer r.close()
	var pts []int64
	var keys []int64
	send := func(p picture) error {
		pts = append(pts, p.f.PTS())
		if p.key {
			keys = append(keys, p.f.PTS())
		}
		p.f.Release()
		return nil
	}
	for i := int64(0); i < 300; i++ {
		if i == 100 || i == 101 { // two frames lost
			continue
		}
		ts := outputOffset + i*3000 + []int64{0, 90, -90}[i%3]
		if i == 200 { // sent at the next frame's time
			ts += 3000
		}
		f := pic.Clone()
		f.SetPTS(ts)
		if err := r.push(f, send); err != nil {
			t.Fatal(err)
		}
	}
	if len(pts) != 300 {
		t.Errorf("%d pictures out, want 300 (two filled, one dropped, one filled)", len(pts))
	}
	for i := range pts {
		if want := outputOffset + int64(i)*3000; pts[i] != want {
			t.Fatalf("picture %d at %d, want %d", i, pts[i], want)
		}
	}
	for i, k := range keys {
		if want := outputOffset + int64(i)*2*media.ClockRate; k != want {
			t.Errorf("keyframe %d at %d, want %d", i, k, want)
		}
	}
	if len(keys) != 5 {
		t.Errorf("%d keyframes in 10 s, want 5", len(keys))
	}
	st := r.g.Stats()
	if st.Duplicated != 3 || st.DroppedLate != 1 || st.DroppedLag != 0 {
		t.Errorf("duplicated %d, dropped late %d, dropped lag %d; want 3, 1, 0", st.Duplicated, st.DroppedLate, st.DroppedLag)
	}
}
