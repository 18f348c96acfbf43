package codec

import (
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestHEVCDecode: an HEVC file (x265, B-frames, Annex B in MPEG-TS as SRT
// carries it) opens as media.HEVC and every picture decodes at its size.
func TestHEVCDecode(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 2, Format: "mpegts", VideoCodec: "libx265"})
	d, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Video.Codec != media.HEVC || d.Video.Width != 640 || d.Video.Height != 360 {
		t.Fatalf("demuxer: %+v", d.Video)
	}
	video, _ := readAll(t, d)
	if len(video) != 60 || !video[0].Keyframe {
		t.Fatalf("%d video packets (first keyframe %v), want 60 from a keyframe", len(video), len(video) > 0 && video[0].Keyframe)
	}
	dec, err := NewVideoDecoder(*d.Video, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	frames := 0
	emit := func(f *Frame) error {
		defer f.Release()
		if f.Width() != 640 || f.Height() != 360 {
			t.Errorf("frame %d is %dx%d", frames, f.Width(), f.Height())
		}
		frames++
		return nil
	}
	for _, p := range video {
		if err := dec.Decode(p, emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(emit); err != nil {
		t.Fatal(err)
	}
	if frames != len(video) {
		t.Errorf("%d frames decoded from %d packets", frames, len(video))
	}
}
