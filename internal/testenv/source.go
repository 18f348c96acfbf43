package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// SourceOptions describes a test source made by the ffmpeg CLI.
type SourceOptions struct {
	Width, Height, FPS int
	Seconds            float64
	// Audio adds a 440 Hz sine, 44.1 kHz stereo AAC (so the pipeline resamples).
	Audio bool
	// AudioOnly makes a file without video.
	AudioOnly bool
	// Format is the container: flv (default), mp4, mpegts or mkv.
	Format string
	// VideoCodec is libx264 (default) or libvpx-vp9.
	VideoCodec string
	// Noise adds temporal noise so that the encoders have real work.
	Noise bool
}

// GenerateSource makes the source once per set of options and caches it
// under the temp dir, so tests and runs share it.
func GenerateSource(t testing.TB, o SourceOptions) string {
	t.Helper()
	if o.Format == "" {
		o.Format = "flv"
	}
	if o.VideoCodec == "" {
		o.VideoCodec = "libx264"
	}
	ffmpeg := NeedTool(t, "ffmpeg")
	key := sha256.Sum256([]byte(fmt.Sprintf("v2 %+v", o)))
	dir := filepath.Join(os.TempDir(), "livestream-testsrc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ext := map[string]string{"flv": "flv", "mp4": "mp4", "mpegts": "ts", "mkv": "mkv"}[o.Format]
	path := filepath.Join(dir, hex.EncodeToString(key[:8])+"."+ext)
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path
	}
	dur := strconv.FormatFloat(o.Seconds, 'f', -1, 64)
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if !o.AudioOnly {
		v := fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", o.Width, o.Height, o.FPS)
		if o.Noise {
			v += ",noise=alls=20:allf=t"
		}
		args = append(args, "-f", "lavfi", "-i", v)
	}
	if o.Audio || o.AudioOnly {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100")
	}
	args = append(args, "-t", dur)
	if !o.AudioOnly {
		switch o.VideoCodec {
		case "libx264":
			g := strconv.Itoa(o.FPS * 2)
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", g, "-bf", "2", "-b:v", "6M")
		default:
			args = append(args, "-c:v", o.VideoCodec, "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8")
		}
	}
	if o.Audio || o.AudioOnly {
		args = append(args, "-ac", "2", "-c:a", "aac", "-b:a", "128k")
	}
	tmp := path + ".tmp"
	args = append(args, "-f", map[string]string{"flv": "flv", "mp4": "mp4", "mpegts": "mpegts", "mkv": "matroska"}[o.Format], tmp)
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("generate test source %+v: %v\n%s", o, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}
