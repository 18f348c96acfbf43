package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestTranscodeWritesLadder(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 7, Audio: true, Format: "flv"})
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "transcode", "--segment-seconds", "4", src, out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"live.m3u8", "360p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	pl, err := os.ReadFile(filepath.Join(out, "720p", "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pl), "#EXT-X-TARGETDURATION:4") || strings.Count(string(pl), "#EXTINF:") != 2 {
		t.Errorf("--segment-seconds 4 on a 7 s source: want two 4 s-target segments, got\n%s", pl)
	}
	if !strings.Contains(stdout, "transcoded 210 frames") || !strings.Contains(stdout, "720p 1280x720") {
		t.Errorf("summary: %q", stdout)
	}
	if stderr != "" {
		t.Errorf("unexpected stderr: %q", stderr)
	}
}

func TestTranscodeConfigFile(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 3, Format: "flv"})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ladder.yaml")
	os.WriteFile(cfg, []byte("transcode:\n  ladder:\n    - {name: low, width: 320, height: 180, video_bitrate: 300k, maxrate: 330k, bufsize: 600k, audio_bitrate: 64k}\n"), 0o644)
	out := filepath.Join(dir, "out")
	if code, _, stderr := runCLI(t, "transcode", "--config", cfg, src, out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "low", "index.m3u8")); err != nil {
		t.Errorf("configured rendition missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "360p")); err == nil {
		t.Errorf("default rendition written although the config replaced the ladder")
	}

	js := filepath.Join(dir, "bad.json")
	os.WriteFile(js, []byte(`{"transcode": {"ladder": [{"name": "x", "width": 321, "height": 180, "video_bitrate": "300k", "audio_bitrate": "64k"}]}}`), 0o644)
	code, _, stderr := runCLI(t, "transcode", "--config", js, src, out)
	if code != 1 || !strings.Contains(stderr, "ladder[0].width: must be even") {
		t.Errorf("invalid config: exit %d, stderr %q", code, stderr)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("transcode:\n  ladderz: []\n"), 0o644)
	code, _, stderr = runCLI(t, "transcode", "--config", unknown, src, out)
	if code != 1 || !strings.Contains(stderr, "ladderz") {
		t.Errorf("unknown key: exit %d, stderr %q", code, stderr)
	}
}

// TestTranscodeBadInput: every bad input gets exit code 1 and one line
// saying what was wrong, never a crash.
func TestTranscodeBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mp4")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a media file \x00\x01\x02"), 4000), 0o644)

	good := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 6, Audio: true, Format: "flv"})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.flv")
	os.WriteFile(truncated, data[:len(data)/2], 0o644)

	mp4 := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 2, Audio: true, Format: "mp4"})
	mdata, _ := os.ReadFile(mp4)
	truncatedMP4 := filepath.Join(dir, "truncated.mp4")
	os.WriteFile(truncatedMP4, mdata[:len(mdata)/3], 0o644)

	audioOnly := testenv.GenerateSource(t, testenv.SourceOptions{Seconds: 2, Audio: true, Format: "flv", AudioOnly: true})
	vp9 := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1, Format: "mkv", VideoCodec: "libvpx-vp9"})

	cases := []struct {
		name, input, want string
	}{
		{"missing file", filepath.Join(dir, "nope.flv"), "No such file or directory"},
		{"garbage bytes", garbage, "Invalid data found"},
		{"truncated flv", truncated, "input truncated"},
		{"truncated mp4", truncatedMP4, "Invalid data found"},
		{"no video", audioOnly, "no video stream"},
		{"vp9 in mkv", vp9, "video codec vp9: unsupported input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "transcode", "--quiet", c.input, filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "-")))
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "livestream: transcode: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q: want one line mentioning %q", stderr, c.want)
			}
		})
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
	if code, _, stderr := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "transcode", "only-one-arg"); code != 2 {
		t.Errorf("transcode with one argument: exit %d, want 2", code)
	}
	code, stdout, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(stdout, "libavcodec 59.") || !strings.Contains(stdout, "x264 build") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}
