package pipeline

import (
	"errors"
	"io"
	"testing"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestLiveEncoderDelay: a live rendition's x264, set up as a rendition
// sets it up, holds no picture back more than LiveDelayFrames, at any
// thread count; a file's keeps the preset's longer delay. Counted in
// pictures sent, not time.
func TestLiveEncoderDelay(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 3, Format: "flv", Noise: true})
	cfg := DefaultConfig()
	r := cfg.Ladder[0]
	for _, c := range []struct {
		live    bool
		threads int
	}{{true, 1}, {true, 2}, {true, 4}, {false, 1}} {
		ec := codec.VideoEncoderConfig{Width: 320, Height: 180,
			Bitrate: int(r.VideoBitrate), MaxRate: int(r.MaxRate), BufSize: int(r.BufSize),
			CRF: cfg.CRF, Preset: cfg.Preset, Profile: cfg.Profile, GOP: 90, Threads: c.threads}
		setDelay(&ec, cfg, c.live)
		held := heldBack(t, src, ec)
		t.Logf("live %v, %d threads: a picture held back %d frames at most", c.live, c.threads, held)
		if c.live && held > LiveDelayFrames {
			t.Errorf("live, %d threads: a picture held back %d frames, more than LiveDelayFrames (%d)", c.threads, held, LiveDelayFrames)
		}
		if !c.live && held <= LiveDelayFrames {
			t.Errorf("file: a picture held back %d frames; the preset's lookahead should hold more", held)
		}
	}
}

// heldBack encodes src's pictures with c and returns the most Encode calls
// a picture's packet came out after the one that sent it.
func heldBack(t *testing.T, src string, c codec.VideoEncoderConfig) int {
	t.Helper()
	d, err := codec.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dec, err := codec.NewVideoDecoder(*d.Video, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	c.FrameRate = d.Video.FrameRate
	enc, err := codec.NewVideoEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	in, most := 0, 0
	sent := map[int64]int{} // picture PTS → pictures in when it was sent
	out := func(p *media.Packet) error {
		most = max(most, in-sent[p.PTS])
		return nil
	}
	encode := func(f *codec.Frame) error {
		defer f.Release()
		in++
		sent[f.PTS()] = in
		return enc.Encode(f, out)
	}
	for {
		p, err := d.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != media.Video {
			continue
		}
		if err := dec.Decode(p, encode); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(encode); err != nil {
		t.Fatal(err)
	}
	return most
}
