package testenv

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// PSNR returns the average PSNR in dB of distorted's video against
// reference's, over all frames, as ffmpeg's psnr filter measures it; a
// perfect match (ffmpeg's "inf") is reported as 100. Both may be any input
// ffmpeg reads, playlists included. The reference is scaled (bicubic) to
// w×h, distorted's size, and both timelines are moved to start at 0 so that
// frames pair up even when an HLS output starts at a later PTS.
func PSNR(t testing.TB, distorted, reference string, w, h int) float64 {
	t.Helper()
	v, err := ComputePSNR(NeedTool(t, "ffmpeg"), distorted, reference, w, h)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ComputePSNR is PSNR for a program that is not a test (bench/cmd).
func ComputePSNR(ffmpeg, distorted, reference string, w, h int) (float64, error) {
	filter := fmt.Sprintf("[0:v]setpts=PTS-STARTPTS[dist];[1:v]setpts=PTS-STARTPTS,scale=%d:%d:flags=bicubic[ref];[dist][ref]psnr", w, h)
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-i", distorted, "-i", reference,
		"-lavfi", filter, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ffmpeg psnr of %s against %s: %v\n%s", distorted, reference, err, out)
	}
	v, err := parsePSNR(out)
	if err != nil {
		return 0, fmt.Errorf("ffmpeg psnr of %s against %s: %v\n%s", distorted, reference, err, out)
	}
	return v, nil
}

// The psnr filter's summary at the end of ffmpeg's log:
// [Parsed_psnr_4 @ 0x…] PSNR y:41.08 u:44.71 v:45.11 average:42.05 min:39.96 max:44.12
var psnrAverage = regexp.MustCompile(`PSNR y:\S+ u:\S+ v:\S+ average:(\S+)`)

// parsePSNR returns the average of the psnr filter's summary in ffmpeg's output.
func parsePSNR(out []byte) (float64, error) {
	m := psnrAverage.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no PSNR summary in ffmpeg's output")
	}
	if string(m[1]) == "inf" {
		return 100, nil
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return 0, fmt.Errorf("PSNR average %q: %v", m[1], err)
	}
	return v, nil
}
