package srt

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestIngestCPU measures the CPU this process spends taking one 720p30
// H.264+AAC stream (10 s, 6 Mb/s, the same encoded content) over SRT and
// over RTMP, the ingest path alone (Sinks that count and discard), in
// alternating rounds, and compares the medians: the target is SRT ≤ 1.1×
// RTMP. The publisher is the ffmpeg CLI copying the file in real time, a
// process of its own. Run:
//
//	LIVESTREAM_INGEST_CPU=5 go test -run TestIngestCPU -v ./ingest/srt/
func TestIngestCPU(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("LIVESTREAM_INGEST_CPU"))
	if rounds <= 0 {
		t.Skip("a benchmark: set LIVESTREAM_INGEST_CPU=N to run N rounds")
	}
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	const seconds = 10
	ts := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: seconds, Audio: true, Format: "mpegts", Noise: true})
	flv := filepath.Join(t.TempDir(), "same.flv")
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-i", ts, "-c", "copy", "-f", "flv", flv).CombinedOutput(); err != nil {
		t.Fatalf("remux to FLV: %v: %s", err, out)
	}
	h := newHarnessSink(t, nil, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtmpDone := make(chan error, 1)
	go func() { rtmpDone <- h.ing.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.ing.Shutdown(ctx)
		<-rtmpDone
	})
	rtmpURL := "rtmp://" + l.Addr().String() + "/stream/" + keyBravo
	srtURL := h.url(keyAlpha)

	// One publish: the CPU-seconds this process spent per second of video,
	// from before ffmpeg starts until the Sink has ended.
	run := func(proto string) float64 {
		args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", flv, "-c", "copy", "-f", "flv", rtmpURL}
		if proto == "srt" {
			args = []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", ts, "-c", "copy", "-f", "mpegts", srtURL}
		}
		c0, err := testenv.SelfCPU()
		if err != nil {
			t.Fatal(err)
		}
		done := runClient(t, exec.Command(ffmpeg, args...))
		s := h.sink(10 * time.Second)
		if err := done(); err != nil {
			t.Fatalf("%s publisher: %v", proto, err)
		}
		s.wait(t, 15*time.Second)
		c1, _ := testenv.SelfCPU()
		if v := s.count(media.Video); v < seconds*30-10 {
			t.Errorf("%s: %d video packets of %d", proto, v, seconds*30)
		}
		return (c1 - c0).Seconds() / seconds
	}
	var srtCPU, rtmpCPU []float64
	for i := range rounds {
		order := []string{"rtmp", "srt"}
		if i%2 == 1 {
			order = []string{"srt", "rtmp"}
		}
		for _, p := range order {
			v := run(p)
			if p == "srt" {
				srtCPU = append(srtCPU, v)
			} else {
				rtmpCPU = append(rtmpCPU, v)
			}
		}
		t.Logf("round %d: RTMP %.4f, SRT %.4f CPU-s per video-s", i+1, rtmpCPU[i], srtCPU[i])
	}
	ms, mr := median(srtCPU), median(rtmpCPU)
	t.Logf("720p30 ingest, medians of %d: SRT %.4f / RTMP %.4f CPU-s per video-s = %.2f×", rounds, ms, mr, ms/mr)
	fmt.Printf("ingest-cpu srt=%.4f rtmp=%.4f ratio=%.2f\n", ms, mr, ms/mr)
	if ms > 1.1*mr {
		t.Errorf("SRT ingest costs %.2f× RTMP's, want ≤ 1.1×", ms/mr)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
