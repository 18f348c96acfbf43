package codec

import (
	"slices"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
)

// TestEncodeKeyframe forces IDRs on chosen pictures of a 60-frame GOP:
// each comes out as an IDR with SPS/PPS, even one sooner than x264's
// keyint_min after the last (that takes forced-idr), x264 counts its next
// GOP from the last forced one, and nothing else is a keyframe.
func TestEncodeKeyframe(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 4, Format: "flv"})
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
	enc, err := NewVideoEncoder(VideoEncoderConfig{Width: 320, Height: 180, FrameRate: d.Video.FrameRate,
		Bitrate: 300_000, MaxRate: 330_000, BufSize: 600_000, Preset: "veryfast", Profile: "main", GOP: 60, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()

	forced := []int{10, 45}
	index := map[int64]int{} // picture PTS → its number
	var out []*media.Packet
	collect := func(p *media.Packet) error { out = append(out, p); return nil }
	encode := func(f *Frame) error {
		defer f.Release()
		n := len(index)
		index[f.PTS()] = n
		if slices.Contains(forced, n) {
			return enc.EncodeKeyframe(f, collect)
		}
		return enc.Encode(f, collect)
	}
	for _, p := range video {
		if err := dec.Decode(p, encode); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(encode); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(collect); err != nil {
		t.Fatal(err)
	}
	if len(index) != 120 || len(out) != 120 {
		t.Fatalf("%d pictures in, %d packets out, want 120", len(index), len(out))
	}
	var keys []int
	for _, p := range out {
		n, ok := index[p.PTS]
		if !ok {
			t.Fatalf("packet PTS %d matches no picture", p.PTS)
		}
		nals, err := h264.SplitAnnexB(p.Data)
		if err != nil {
			t.Fatalf("picture %d: %v", n, err)
		}
		if p.Keyframe != h264.IsKeyframe(nals) {
			t.Errorf("picture %d: keyframe flag %v, IDR slice %v", n, p.Keyframe, h264.IsKeyframe(nals))
		}
		if p.Keyframe {
			keys = append(keys, n)
			if len(nals) < 3 || h264.NALType(nals[1]) != h264.NALTypeSPS || h264.NALType(nals[2]) != h264.NALTypePPS {
				t.Errorf("IDR picture %d: NAL types %v, want AUD SPS PPS first", n, nalTypes(nals))
			}
		}
	}
	slices.Sort(keys)
	// 0: the first picture; 10 and 45: forced; 105: 60 after the last forced.
	if want := []int{0, 10, 45, 105}; !slices.Equal(keys, want) {
		t.Errorf("IDR pictures %v, want %v", keys, want)
	}
}
