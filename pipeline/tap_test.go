package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// tapOutput collects a tap's packets.
type tapOutput struct {
	mu      sync.Mutex
	packets []*media.Packet
}

func (o *tapOutput) emit(p *media.Packet) {
	o.mu.Lock()
	o.packets = append(o.packets, p)
	o.mu.Unlock()
}

// write saves the packets as a raw H.264 stream for ffprobe.
func (o *tapOutput) write(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	var b []byte
	for _, p := range o.packets {
		b = append(b, p.Data...)
	}
	path := filepath.Join(t.TempDir(), "tap.h264")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runWithTap transcodes src with cfg's ladder and one tap added before Run,
// and returns once both have ended.
func runWithTap(t *testing.T, src string, cfg Config, tc TapConfig) (*File, *Tap) {
	t.Helper()
	f, err := OpenFile(src, cfg, Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	tap, err := f.AddTap(tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tap.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tap.Done():
	case <-ctx.Done():
		t.Fatal("the tap did not end after the graph")
	}
	if err := tap.Err(); err != nil {
		t.Fatal(err)
	}
	return f, tap
}

func firstVideoPTS(t *testing.T, src string) int64 {
	t.Helper()
	d, err := codec.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first := int64(1 << 62)
	for range 20 {
		p, err := d.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind == media.Video {
			first = min(first, p.PTS)
		}
	}
	return first
}

// TestTapReusesRenditionFrames: a 720p30 tap of a 720p60 source takes the
// 720p rendition's pictures, halves the rate, puts a keyframe every 2 s and
// keeps the input's time line, while the ladder is encoded in full.
func TestTapReusesRenditionFrames(t *testing.T) {
	opts := testenv.SourceOptions{Width: 1280, Height: 720, FPS: 60, Seconds: 4, Format: "flv"}
	src := testenv.GenerateSource(t, opts)
	var out tapOutput
	f, tap := runWithTap(t, src, Config{}, TapConfig{
		Name: "twitch", Width: 1280, Height: 720, MaxFrameRate: media.Rational{Num: 30, Den: 1},
		Bitrate: 3_500_000, MaxRate: 3_750_000, BufSize: 4_200_000, Emit: out.emit,
	})
	if want := len(f.Renditions()) - 1; tap.source != want || f.Renditions()[want].Name != "720p" {
		t.Errorf("tap takes frames from source %d, want the 720p rendition (%d)", tap.source, want)
	}
	if w, h := tap.Size(); w != 1280 || h != 720 || tap.FrameRate() != (media.Rational{Num: 30, Den: 1}) {
		t.Errorf("tap is %dx%d at %s, want 1280x720 at 30", w, h, tap.FrameRate())
	}
	for _, r := range f.Stats().Renditions {
		if r.Encoded != 240 {
			t.Errorf("rendition %s encoded %d frames, want all 240", r.Name, r.Encoded)
		}
	}
	if tap.Dropped() != 0 {
		t.Errorf("dropped %d pictures", tap.Dropped())
	}
	frames := testenv.ProbeFrames(t, out.write(t), "v:0")
	if len(frames) != 120 || tap.Encoded() != 120 {
		t.Fatalf("tap: %d frames decoded, %d encoded, want 120 (4 s at 30 fps)", len(frames), tap.Encoded())
	}
	for i, fr := range frames {
		if want := i%60 == 0; (fr.KeyFrame == 1) != want {
			t.Errorf("frame %d: key_frame %d, want a keyframe every 60 frames", i, fr.KeyFrame)
		}
	}
	st := testenv.Probe(t, out.write(t)).Streams[0]
	if st.CodecName != "h264" || st.Width != 1280 || st.Height != 720 {
		t.Errorf("tap output %s %dx%d", st.CodecName, st.Width, st.Height)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	firstOut := out.packets[0].PTS
	for _, p := range out.packets {
		firstOut = min(firstOut, p.PTS)
	}
	if in := firstVideoPTS(t, src); firstOut != in {
		t.Errorf("first tap PTS %d, first source PTS %d: not on the input's time line", firstOut, in)
	}
}

// TestTapScalesItsOwn: with no rendition of its size, the tap scales the
// decoder's pictures itself.
func TestTapScalesItsOwn(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 480, FPS: 30, Seconds: 2, Format: "flv"})
	var out tapOutput
	cfg := Config{Ladder: []Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}}}
	_, tap := runWithTap(t, src, cfg, TapConfig{Name: "small", Width: 320, Height: 320, Bitrate: 500_000, Emit: out.emit,
		Queue: 60}) // a file decodes faster than real time: room for all of it
	if tap.source != -1 {
		t.Errorf("tap takes frames from rendition %d, want the decoder", tap.source)
	}
	st := testenv.Probe(t, out.write(t)).Streams[0]
	// 640x480 fitted in 320x320 keeps 4:3.
	if st.Width != 320 || st.Height != 240 {
		t.Errorf("tap output %dx%d, want 320x240", st.Width, st.Height)
	}
	if n := len(testenv.ProbeFrames(t, out.write(t), "v:0")); n != 60 || tap.Dropped() != 0 {
		t.Errorf("tap output has %d frames, %d dropped, want 60 and none", n, tap.Dropped())
	}
}

// TestSlowTapNeverSlowsTheLadder: a tap whose consumer blocks drops
// pictures; the ladder still encodes every frame and the graph ends.
func TestSlowTapNeverSlowsTheLadder(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 4, Format: "flv"})
	cfg := Config{Ladder: []Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}}}
	f, err := OpenFile(src, cfg, Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	release := make(chan struct{})
	tap, err := f.AddTap(TapConfig{Name: "slow", Width: 640, Height: 360, Bitrate: 500_000, Queue: 4,
		Emit: func(*media.Packet) { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Renditions[0].Encoded != 120 {
		t.Errorf("ladder encoded %d of 120 frames behind a blocked tap", st.Renditions[0].Encoded)
	}
	if tap.Dropped() == 0 {
		t.Error("a blocked tap dropped nothing")
	}
	if _, err := f.AddTap(TapConfig{Name: "late", Width: 640, Height: 360, Bitrate: 500_000, Emit: func(*media.Packet) {}}); !errors.Is(err, ErrGraphEnded) {
		t.Errorf("AddTap after the end = %v, want ErrGraphEnded", err)
	}
	close(release)
	tap.Close()
}

// TestTapCloseMidStream: closing a tap while the graph runs stops it at
// once, frees its pictures and leaves the ladder running.
func TestTapCloseMidStream(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 4, Format: "flv"})
	cfg := Config{Ladder: []Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}}}
	f, err := OpenFile(src, cfg, Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out tapOutput
	tap, err := f.AddTap(TapConfig{Name: "closed", Width: 640, Height: 360, Bitrate: 500_000, Emit: out.emit})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(context.Background()) }()
	testenv.WaitFor(t, 30*time.Second, func() bool { return tap.Encoded() > 10 }, "the tap to encode 10 frames")
	tap.Close()
	n := tap.Encoded()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if tap.Encoded() != n {
		t.Errorf("the tap encoded %d more frames after Close", tap.Encoded()-n)
	}
	if st := f.Stats(); st.Renditions[0].Encoded != 120 {
		t.Errorf("ladder encoded %d of 120 frames", st.Renditions[0].Encoded)
	}
}
