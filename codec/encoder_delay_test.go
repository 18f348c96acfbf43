package codec

import (
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// encoderDelay encodes the source's pictures with c and returns how many
// pictures in x264 holds each back at most, counted in Encode calls (0: a
// picture's packet comes out of the Encode call that sent it), and how many
// pictures went in before the first packet came out. The flush at the end
// is not counted.
func encoderDelay(t *testing.T, src string, c VideoEncoderConfig) (most, first int) {
	t.Helper()
	d, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	video, _ := readAll(t, d)
	dec, err := NewVideoDecoder(*d.Video, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	c.Width, c.Height, c.FrameRate = d.Video.Width, d.Video.Height, d.Video.FrameRate
	enc, err := NewVideoEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	in := 0
	sent := map[int64]int{} // picture PTS → the number of pictures in when it was sent
	first = -1
	out := func(p *media.Packet) error {
		n, ok := sent[p.PTS]
		if !ok {
			t.Fatalf("packet PTS %d of no picture sent", p.PTS)
		}
		most = max(most, in-n)
		if first < 0 {
			first = in
		}
		return nil
	}
	encode := func(f *Frame) error {
		defer f.Release()
		in++
		sent[f.PTS()] = in
		return enc.Encode(f, out)
	}
	for _, p := range video {
		if err := dec.Decode(p, encode); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(encode); err != nil {
		t.Fatal(err)
	}
	if first < 0 {
		t.Fatalf("no packet out of %d pictures", in)
	}
	return most, first
}

// TestEncoderDelay counts the pictures x264 holds back under each of the
// knobs that set its delay: the larger of B-frames and lookahead, one more
// to read each picture's duration off the next one's timestamp (none with
// ConstantRate), and with frame threads one per thread beyond the first
// plus the sync lookahead (B-frames + 1 unless set); a B-picture also waits
// for the reference after it. Sliced threads add nothing. The last rows are
// the live ladder's settings (pipeline.LiveDelayFrames): 3 frames whatever
// the threads.
func TestEncoderDelay(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 3, Format: "flv", Noise: true})
	base := VideoEncoderConfig{Bitrate: 300_000, MaxRate: 330_000, BufSize: 600_000, CRF: 20,
		Preset: "veryfast", Profile: "main", GOP: 60, Threads: 1}
	with := func(f func(*VideoEncoderConfig)) VideoEncoderConfig {
		c := base
		f(&c)
		return c
	}
	live := func(threads int) VideoEncoderConfig {
		return with(func(c *VideoEncoderConfig) {
			c.BFrames, c.Lookahead, c.ConstantRate, c.SlicedThreads, c.Threads = Disabled, 3, true, true, threads
		})
	}
	for _, tc := range []struct {
		name        string
		cfg         VideoEncoderConfig
		most, first int
	}{
		{"preset: 3 B-frames, lookahead 10", base, 13, 12},
		{"lookahead 5", with(func(c *VideoEncoderConfig) { c.Lookahead = 5 }), 8, 7},
		{"lookahead 5, 2 frame threads", with(func(c *VideoEncoderConfig) { c.Lookahead = 5; c.Threads = 2 }), 13, 12},
		{"lookahead 3, 2 B-frames, constant rate", with(func(c *VideoEncoderConfig) { c.Lookahead, c.BFrames, c.ConstantRate = 3, 2, true }), 4, 4},
		{"lookahead 3, no B-frames", with(func(c *VideoEncoderConfig) { c.Lookahead, c.BFrames = 3, Disabled }), 4, 5},
		{"lookahead 3, no B-frames, constant rate, 2 frame threads", with(func(c *VideoEncoderConfig) {
			c.Lookahead, c.BFrames, c.ConstantRate, c.Threads = 3, Disabled, true, 2
		}), 5, 6},
		{"lookahead 3, no B-frames, constant rate, 2 frame threads, no sync lookahead", with(func(c *VideoEncoderConfig) {
			c.Lookahead, c.BFrames, c.ConstantRate, c.Threads, c.SyncLookahead = 3, Disabled, true, 2, Disabled
		}), 4, 5},
		{"zerolatency", with(func(c *VideoEncoderConfig) {
			c.BFrames, c.Lookahead, c.SyncLookahead = Disabled, Disabled, Disabled
			c.ConstantRate, c.SlicedThreads, c.Threads = true, true, 2
		}), 0, 1},
		{"live: lookahead 3, no B-frames, constant rate, 1 thread", live(1), 3, 4},
		{"live, 2 sliced threads", live(2), 3, 4},
		{"live, 4 sliced threads", live(4), 3, 4},
	} {
		most, first := encoderDelay(t, src, tc.cfg)
		t.Logf("%s: a picture held back %d frames at most, %d pictures in before the first packet", tc.name, most, first)
		if most != tc.most || first != tc.first {
			t.Errorf("%s: held back %d frames at most, first packet after %d pictures; want %d, %d", tc.name, most, first, tc.most, tc.first)
		}
	}
}
