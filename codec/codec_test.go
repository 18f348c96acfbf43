package codec

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
)

func TestMain(m *testing.M) {
	Quiet()
	os.Exit(m.Run())
}

func readAll(t *testing.T, d *Demuxer) (video, audio []*media.Packet) {
	t.Helper()
	for {
		p, err := d.ReadPacket()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind == media.Video {
			video = append(video, p)
		} else {
			audio = append(audio, p)
		}
	}
}

// TestVideoRoundTrip decodes a real file, scales every picture and encodes
// it with the ladder's x264 settings: every frame comes out, with IDRs
// exactly every GOP frames, an AUD and SPS/PPS before each IDR.
func TestVideoRoundTrip(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 4, Audio: true, Format: "flv"})
	d, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Video.Width != 1280 || d.Video.Height != 720 || d.Video.FrameRate != (media.Rational{Num: 30, Den: 1}) || d.Audio == nil {
		t.Fatalf("demuxer: %+v %+v", d.Video, d.Audio)
	}
	video, _ := readAll(t, d)
	dec, err := NewVideoDecoder(*d.Video, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	enc, err := NewVideoEncoder(VideoEncoderConfig{Width: 640, Height: 360, FrameRate: d.Video.FrameRate,
		Bitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, CRF: 20, Preset: "veryfast", Profile: "main", GOP: 30, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	sc := NewScaler(640, 360)
	defer sc.Close()
	var out []*media.Packet
	collect := func(p *media.Packet) error { out = append(out, p); return nil }
	decoded := 0
	encode := func(f *Frame) error {
		defer f.Release()
		decoded++
		if !NeedsScaling(f, 640, 360) {
			t.Fatalf("a 1280x720 picture does not need scaling to 640x360?")
		}
		s, err := sc.Scale(f)
		if err != nil {
			return err
		}
		defer s.Release()
		if s.Width() != 640 || s.Height() != 360 || NeedsScaling(s, 640, 360) {
			t.Fatalf("scaled to %dx%d", s.Width(), s.Height())
		}
		return enc.Encode(s, collect)
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
	if decoded != len(video) || len(out) != len(video) {
		t.Fatalf("%d packets → %d frames → %d packets", len(video), decoded, len(out))
	}
	keys := 0
	for i, p := range out {
		nals, err := h264.SplitAnnexB(p.Data)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if h264.NALType(nals[0]) != h264.NALTypeAUD {
			t.Errorf("packet %d starts with NAL type %d, want an AUD", i, h264.NALType(nals[0]))
		}
		if p.Keyframe {
			keys++
			if !h264.IsKeyframe(nals) || h264.NALType(nals[1]) != h264.NALTypeSPS || h264.NALType(nals[2]) != h264.NALTypePPS {
				t.Errorf("keyframe %d: NAL types %v", i, nalTypes(nals))
			}
			sps, err := h264.ParseSPS(nals[1])
			if err != nil || sps.ProfileIDC != 77 || sps.Width != 640 || sps.Height != 360 {
				t.Errorf("SPS %+v, %v: want main profile 640x360", sps, err)
			}
			if (p.PTS-out[0].PTS)%(30*media.ClockRate/30) != 0 {
				t.Errorf("keyframe at %d ticks: not on a 30-frame boundary", p.PTS-out[0].PTS)
			}
		}
		if p.DTS > p.PTS {
			t.Errorf("packet %d: DTS %d after PTS %d", i, p.DTS, p.PTS)
		}
	}
	if keys != 4 {
		t.Errorf("%d keyframes in 4 s with a 1 s GOP, want 4", keys)
	}
}

func nalTypes(nals [][]byte) []uint8 {
	var ts []uint8
	for _, n := range nals {
		ts = append(ts, h264.NALType(n))
	}
	return ts
}

// TestAudioPath decodes 44.1 kHz AAC, resamples it to 48 kHz in 1024-sample
// frames and encodes two bitrates: the durations add up.
func TestAudioPath(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 3, Audio: true, Format: "flv"})
	d, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, audio := readAll(t, d)
	dec, err := NewAudioDecoder(*d.Audio)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var encs []*AudioEncoder
	for _, b := range []int{96_000, 128_000} {
		e, err := NewAudioEncoder(b, 48000, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		encs = append(encs, e)
	}
	rs := NewResampler(48000, 2, encs[0].FrameSize())
	defer rs.Close()
	samples, short := 0, 0
	packets := make([]int, len(encs))
	encode := func(f *Frame) error {
		defer f.Release()
		if f.Samples() != 1024 {
			short++
		}
		samples += f.Samples()
		for i, e := range encs {
			if err := e.Encode(f, func(p *media.Packet) error { packets[i]++; return nil }); err != nil {
				return err
			}
		}
		return nil
	}
	resample := func(f *Frame) error { defer f.Release(); return rs.Resample(f, encode) }
	for _, p := range audio {
		if err := dec.Decode(p, resample); err != nil {
			t.Fatal(err)
		}
	}
	if err := dec.Flush(resample); err != nil {
		t.Fatal(err)
	}
	if err := rs.Flush(encode); err != nil {
		t.Fatal(err)
	}
	for i, e := range encs {
		if err := e.Flush(func(p *media.Packet) error { packets[i]++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if short > 1 {
		t.Errorf("%d frames not of 1024 samples: only the last may be short", short)
	}
	if secs := float64(samples) / 48000; secs < 2.95 || secs > 3.1 {
		t.Errorf("%.3f s of audio out of a 3 s source", secs)
	}
	if packets[0] != packets[1] || packets[0] < samples/1024 {
		t.Errorf("packets per encoder %v for %d samples", packets, samples)
	}
	if c := encs[0].Config(); c.SampleRate != 48000 || c.Channels != 2 || c.ObjectType != 2 {
		t.Errorf("config %+v", c)
	}
}

// TestCorruptPacketsAreSkipped: garbage in the middle of a stream gives
// ErrCorrupt for those packets and the decoder goes on.
func TestCorruptPacketsAreSkipped(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 2, Format: "flv"})
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
	frames, corrupt := 0, 0
	count := func(f *Frame) error { frames++; f.Release(); return nil }
	for i, p := range video {
		if i == 10 || i == 11 {
			bad := *p
			bad.Data = []byte{0, 0, 0, 200, 0xff, 0xff, 0xff}
			if err := dec.Decode(&bad, count); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("corrupt packet: %v, want ErrCorrupt", err)
				}
				corrupt++
			}
			continue
		}
		if err := dec.Decode(p, count); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatal(err)
		}
	}
	dec.Flush(count)
	if corrupt == 0 {
		t.Error("garbage packets were not reported")
	}
	if frames < len(video)-30 { // the rest of the GOP may be lost, the next GOP decodes
		t.Errorf("%d frames decoded of %d packets", frames, len(video))
	}
}

func TestUnsupported(t *testing.T) {
	if _, err := NewVideoDecoder(media.VideoParams{Codec: "vp9"}, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("vp9 decoder: %v, want ErrUnsupported", err)
	}
	if _, err := NewAudioDecoder(media.AudioParams{Codec: "opus"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("opus decoder: %v, want ErrUnsupported", err)
	}
	if _, err := NewVideoEncoder(VideoEncoderConfig{Width: 64, Height: 64}); err == nil {
		t.Error("encoder without a frame rate opened")
	}
	var d *Decoder = &Decoder{}
	if err := d.Decode(&media.Packet{Data: []byte{1}}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed decoder: %v", err)
	}
}

// TestScalerKeepsSharedPictures holds one scaled picture, as a queue of
// pictures for an encoder does, while the scaler scales the next: the held
// picture must not change, and a released one's buffer is reused.
func TestScalerKeepsSharedPictures(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 2, Format: "flv"})
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
	var frames []*Frame
	for _, p := range video {
		if err := dec.Decode(p, func(f *Frame) error { frames = append(frames, f); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, f := range frames {
			f.Release()
		}
	}()
	if len(frames) < 40 {
		t.Fatalf("decoded %d frames", len(frames))
	}
	sc := NewScaler(160, 120)
	defer sc.Close()
	pixels := func(f *Frame) []byte {
		b, err := f.f.Data().Bytes(1)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	held, err := sc.Scale(frames[0])
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	before := pixels(held)
	next, err := sc.Scale(frames[35]) // another picture of testsrc
	if err != nil {
		t.Fatal(err)
	}
	if string(pixels(next)) == string(before) {
		t.Fatal("frames 0 and 35 scale to the same picture: the test proves nothing")
	}
	if string(pixels(held)) != string(before) {
		t.Fatal("scaling the next picture overwrote a picture still held")
	}
	nextAddr := next.bufferAddr()
	next.Release()
	again, err := sc.Scale(frames[1])
	if err != nil {
		t.Fatal(err)
	}
	defer again.Release()
	if string(pixels(held)) != string(before) {
		t.Fatal("held picture changed")
	}
	if again.bufferAddr() != nextAddr {
		t.Error("the released picture's buffer was not reused: the pool allocates per frame")
	}
	if again.bufferAddr() == held.bufferAddr() {
		t.Error("a held picture's buffer was handed out again")
	}
}
