package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	l.Close()
}

func TestGenerateAndProbe(t *testing.T) {
	src := GenerateSource(t, SourceOptions{Width: 320, Height: 240, FPS: 24, Seconds: 1, Audio: true, Format: "mp4"})
	if again := GenerateSource(t, SourceOptions{Width: 320, Height: 240, FPS: 24, Seconds: 1, Audio: true, Format: "mp4"}); again != src {
		t.Errorf("the same options made a second file: %s, %s", src, again)
	}
	r := Probe(t, src)
	if len(r.Streams) != 2 || r.Streams[0].CodecName != "h264" || r.Streams[0].Width != 320 || r.Streams[1].CodecName != "aac" {
		t.Fatalf("probe: %+v", r.Streams)
	}
	if n := len(ProbeFrames(t, src, "v:0")); n != 24 {
		t.Errorf("%d frames, want 24", n)
	}
	if p := PSNR(t, src, src, 320, 240); p < 60 {
		t.Errorf("PSNR of a file against itself: %.1f dB", p)
	}
}

func TestRSS(t *testing.T) {
	r := RSS()
	p := PeakRSS() // read after: the peak can only have grown
	if r <= 0 || p < r {
		t.Errorf("RSS %d, peak %d", r, p)
	}
}
