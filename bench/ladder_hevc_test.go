package bench

import (
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

// hevcSource is benchSource's picture encoded with x265 or x264 at the same
// bitrate, in MPEG-TS (as SRT carries it; FLV has no HEVC), so that the two
// ladders below differ only in the publisher's codec.
func hevcSource(b testing.TB, w, h int, codec string) string {
	return testenv.GenerateSource(b, testenv.SourceOptions{Width: w, Height: h, FPS: 30, Seconds: 10, Audio: true, Format: "mpegts", Noise: true, VideoCodec: codec})
}

// BenchmarkLadder1080p30HEVC is the whole ladder from an HEVC 1080p30
// publish (real time on 2 cores means frames/s ≥ 30 and cpu-s/video-s ≤ 2);
// BenchmarkLadder1080p30H264TS is the same content from H.264, to compare.
// Run them side by side: go test -bench 'Ladder1080p30(HEVC|H264TS)' -count 5.
func BenchmarkLadder1080p30HEVC(b *testing.B) {
	benchLadderFrom(b, hevcSource(b, 1920, 1080, "libx265"))
}

func BenchmarkLadder1080p30H264TS(b *testing.B) {
	benchLadderFrom(b, hevcSource(b, 1920, 1080, "libx264"))
}
