package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

func TestMain(m *testing.M) {
	codec.Quiet()
	os.Exit(m.Run())
}

func benchSource(b testing.TB, w, h int) string {
	return testenv.GenerateSource(b, testenv.SourceOptions{Width: w, Height: h, FPS: 30, Seconds: 10, Audio: true, Format: "flv", Noise: true})
}

// benchLadder transcodes the source with the whole ladder into memory per
// iteration and reports source frames per wall-second and CPU-seconds per
// second of video.
func benchLadder(b *testing.B, w, h int) {
	benchLadderFrom(b, benchSource(b, w, h))
}

// benchLadderFrom is benchLadder on the source file src.
func benchLadderFrom(b *testing.B, src string) {
	var frames int64
	var cpu time.Duration
	var videoSec float64
	b.ReportAllocs()
	for b.Loop() {
		f, err := pipeline.OpenFile(src, pipeline.Config{}, pipeline.Output{Store: hlsmux.NewMemoryStore(), Type: hlsmux.VOD, FirstSeq: 1})
		if err != nil {
			b.Fatal(err)
		}
		c0 := CPUTime()
		if err := f.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		cpu += CPUTime() - c0
		n, _ := f.Progress()
		frames += n
		videoSec += float64(n) / f.FrameRate().Float()
		f.Close()
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(cpu.Seconds()/videoSec, "cpu-s/video-s")
}

func BenchmarkLadder720p30(b *testing.B)  { benchLadder(b, 1280, 720) }
func BenchmarkLadder1080p30(b *testing.B) { benchLadder(b, 1920, 1080) }

// benchFloor measures the floor: one decode, the needed scales and each x264
// encode alone.
func benchFloor(b *testing.B, w, h int) {
	src := benchSource(b, w, h)
	var total time.Duration
	var videoSec float64
	for b.Loop() {
		fl, err := MeasureFloor(src, pipeline.Config{})
		if err != nil {
			b.Fatal(err)
		}
		total += fl.Total()
		videoSec += fl.VideoSeconds
	}
	b.ReportMetric(total.Seconds()/videoSec, "cpu-s/video-s")
}

func BenchmarkFloor720p30(b *testing.B)  { benchFloor(b, 1280, 720) }
func BenchmarkFloor1080p30(b *testing.B) { benchFloor(b, 1920, 1080) }
