package testenv

import (
	"bytes"
	"os"
	"slices"
	"testing"
)

func TestSourceArgs(t *testing.T) {
	args, ext, err := sourceArgs(SourceOptions{Width: 640, Height: 360, FPS: 25, Seconds: 1.5, Audio: true, Noise: true})
	if err != nil {
		t.Fatal(err)
	}
	if ext != "flv" {
		t.Errorf("default extension %q, want flv", ext)
	}
	for _, want := range [][]string{
		{"-i", "testsrc2=size=640x360:rate=25,noise=alls=20:allf=t"},
		{"-i", "sine=frequency=440:sample_rate=44100"},
		{"-t", "1.5"},
		{"-g", "50", "-bf", "2"},
		{"-c:a", "aac", "-ac", "2"},
		{"-f", "flv"},
	} {
		if !containsRun(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}

	for _, bad := range []SourceOptions{
		{Width: 640, Height: 360, FPS: 30},             // no length
		{Width: 641, Height: 360, FPS: 30, Seconds: 1}, // odd width
		{Width: 640, Height: 360, Seconds: 1},          // no rate
		{Width: 640, Height: 360, FPS: 30, Seconds: 1, Format: "avi"},
		{Width: 640, Height: 360, FPS: 30, Seconds: 1, VideoCodec: "libaom-av1"},
	} {
		if _, _, err := sourceArgs(bad); err == nil {
			t.Errorf("sourceArgs(%+v) took bad options", bad)
		}
	}
	if _, _, err := sourceArgs(SourceOptions{Seconds: 1, AudioOnly: true}); err != nil {
		t.Errorf("audio only: %v", err)
	}
}

func containsRun(args, run []string) bool {
	for i := range args {
		if len(args)-i >= len(run) && slices.Equal(args[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func TestGenerateAndProbe(t *testing.T) {
	o := SourceOptions{Width: 320, Height: 240, FPS: 24, Seconds: 1, Audio: true, Format: "mp4"}
	src := GenerateSource(t, o)
	again := GenerateSource(t, o)
	if src == again {
		t.Errorf("both calls returned %s: each test gets its own copy", src)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(again)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the same options gave different files (%d and %d bytes)", len(a), len(b))
	}

	r := Probe(t, src)
	if len(r.Streams) != 2 {
		t.Fatalf("%d streams, want 2: %+v", len(r.Streams), r.Streams)
	}
	v, au := r.Streams[0], r.Streams[1]
	if v.CodecType != "video" || v.CodecName != "h264" || v.Width != 320 || v.Height != 240 || v.RFrameRate != "24/1" {
		t.Errorf("video stream: %+v", v)
	}
	if au.CodecType != "audio" || au.CodecName != "aac" || au.SampleRate != "44100" || au.Channels != 2 {
		t.Errorf("audio stream: %+v", au)
	}
	if r.Format.FormatName == "" || r.Format.Duration == "" {
		t.Errorf("format: %+v", r.Format)
	}

	frames := ProbeFrames(t, src, "v:0")
	if len(frames) != 24 {
		t.Fatalf("%d frames, want 24", len(frames))
	}
	if frames[0].KeyFrame != 1 || frames[0].PictType != "I" {
		t.Errorf("first frame %+v, want a keyframe", frames[0])
	}
	packets := ProbePackets(t, src, "v:0")
	if len(packets) != 24 || packets[0].Flags[0] != 'K' {
		t.Errorf("%d packets, first %+v: want 24 from a keyframe", len(packets), packets[0])
	}
	if p := PSNR(t, src, src, 320, 240); p < 60 {
		t.Errorf("PSNR of a file against itself: %.1f dB", p)
	}
}

func TestGenerateAudioOnly(t *testing.T) {
	r := Probe(t, GenerateSource(t, SourceOptions{Seconds: 1, AudioOnly: true}))
	if len(r.Streams) != 1 || r.Streams[0].CodecType != "audio" {
		t.Errorf("streams %+v, want one audio stream", r.Streams)
	}
}
