package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// SourceOptions describes a test source made by the ffmpeg CLI.
type SourceOptions struct {
	// Width, Height and FPS of testsrc2's picture; the size must be even
	// (yuv420p). Unused with AudioOnly.
	Width, Height, FPS int
	// Seconds is the length of the file.
	Seconds float64
	// Audio adds a 440 Hz sine, 44.1 kHz stereo AAC, so that the pipeline
	// has to resample it to 48 kHz.
	Audio bool
	// AudioRate replaces the sine's 44.1 kHz.
	AudioRate int
	// AudioOnly makes a file without video (Audio is implied).
	AudioOnly bool
	// Format is the container: "flv" (the default), "mp4", "mpegts" or "mkv".
	Format string
	// VideoCodec is "libx264" (the default: veryfast, a keyframe every 2 s,
	// 2 B-frames, like an OBS stream), "libx265" (HEVC, the same GOP) or
	// "libvpx-vp9".
	VideoCodec string
	// Noise adds temporal noise so that the encoders have real work, as with
	// a camera; testsrc2 alone compresses to almost nothing.
	Noise bool
}

// Containers: SourceOptions.Format → ffmpeg's muxer and the file extension.
var sourceFormats = map[string]struct{ muxer, ext string }{
	"flv":    {"flv", "flv"},
	"mp4":    {"mp4", "mp4"},
	"mpegts": {"mpegts", "ts"},
	"mkv":    {"matroska", "mkv"},
}

// GenerateSource returns the path of a new copy, in t.TempDir(), of the
// source that o describes. The ffmpeg CLI makes each source once and keeps
// it under os.TempDir()/livestream-testsrc/, named by a hash of its command
// line, so that tests, packages and runs share it; the copy is the test's
// own to change.
func GenerateSource(t testing.TB, o SourceOptions) string {
	t.Helper()
	ffmpeg := NeedTool(t, "ffmpeg")
	args, ext, err := sourceArgs(o)
	if err != nil {
		t.Fatalf("generate test source %+v: %v", o, err)
	}
	sum := sha256.Sum256([]byte(strings.Join(args, "\x00")))
	dir := filepath.Join(os.TempDir(), "livestream-testsrc")
	cached := filepath.Join(dir, hex.EncodeToString(sum[:8])+"."+ext)
	if st, err := os.Stat(cached); err != nil || st.Size() == 0 {
		if err := makeSource(ffmpeg, args, dir, cached); err != nil {
			t.Fatalf("generate test source %+v: %v", o, err)
		}
	}
	own := filepath.Join(t.TempDir(), fmt.Sprintf("src-%dx%d-%dfps-%gs.%s", o.Width, o.Height, o.FPS, o.Seconds, ext))
	if err := copyFile(own, cached); err != nil {
		t.Fatalf("copy test source: %v", err)
	}
	return own
}

// sourceArgs is the ffmpeg command line (without the output file) that
// makes o's source, and the file's extension.
func sourceArgs(o SourceOptions) (args []string, ext string, err error) {
	if o.Format == "" {
		o.Format = "flv"
	}
	if o.VideoCodec == "" {
		o.VideoCodec = "libx264"
	}
	f, ok := sourceFormats[o.Format]
	switch {
	case !ok:
		return nil, "", fmt.Errorf("unknown format %q", o.Format)
	case o.Seconds <= 0:
		return nil, "", fmt.Errorf("seconds must be positive")
	case o.AudioOnly:
	case o.Width <= 0 || o.Height <= 0 || o.FPS <= 0:
		return nil, "", fmt.Errorf("width, height and fps must be positive")
	case o.Width%2 != 0 || o.Height%2 != 0:
		return nil, "", fmt.Errorf("size %dx%d must be even", o.Width, o.Height)
	case o.VideoCodec != "libx264" && o.VideoCodec != "libx265" && o.VideoCodec != "libvpx-vp9":
		return nil, "", fmt.Errorf("unknown video codec %q", o.VideoCodec)
	}
	audio := o.Audio || o.AudioOnly

	args = []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}
	if !o.AudioOnly {
		v := fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", o.Width, o.Height, o.FPS)
		if o.Noise {
			v += ",noise=alls=20:allf=t"
		}
		args = append(args, "-f", "lavfi", "-i", v)
	}
	if audio {
		rate := 44100
		if o.AudioRate > 0 {
			rate = o.AudioRate
		}
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d", rate))
	}
	args = append(args, "-t", strconv.FormatFloat(o.Seconds, 'f', -1, 64))
	if !o.AudioOnly {
		switch o.VideoCodec {
		case "libx264":
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
				"-g", strconv.Itoa(o.FPS*2), "-bf", "2", "-b:v", "6M")
		case "libx265":
			args = append(args, "-c:v", "libx265", "-preset", "veryfast", "-pix_fmt", "yuv420p",
				"-g", strconv.Itoa(o.FPS*2), "-bf", "2", "-b:v", "6M", "-x265-params", "log-level=error")
		case "libvpx-vp9":
			args = append(args, "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "1M",
				"-deadline", "realtime", "-cpu-used", "8")
		}
	}
	if audio {
		args = append(args, "-c:a", "aac", "-ac", "2", "-b:a", "128k")
	}
	return append(args, "-f", f.muxer), f.ext, nil
}

// makeSource runs ffmpeg into a temporary file beside path and renames it
// into place, so that packages testing in parallel, which may make the same
// source at once, never see a half-written file.
func makeSource(ffmpeg string, args []string, dir, path string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(ffmpeg, append(args, tmp.Name())...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return os.Rename(tmp.Name(), path)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
