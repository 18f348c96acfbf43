package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// crashConfig is the one-rendition, 2-second-segment ladder of the serve
// tests, as a config file for the binary.
const crashConfig = `transcode:
  segment_duration: 2s
  keyframe_interval: 1s
  playlist_window: 4
  ladder:
    - {name: 360p, width: 640, height: 360, video_bitrate: 800k, maxrate: 856k, bufsize: 1200k, audio_bitrate: 96k}
`

// child is a `livestream serve` process, built and run as a user would.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startChild(t *testing.T, bin string, s *server, config string) *child {
	t.Helper()
	sc := s.cfg.Serve
	cmd := exec.Command(bin, "serve", "--config", config, "--rtmp-addr", sc.RTMPAddr, "--http-addr", sc.HTTPAddr,
		"--admin-addr", sc.AdminAddr, "--admin-token", sc.AdminToken, "--data-dir", sc.DataDir, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() { c.kill() })
	testenv.WaitFor(t, 15*time.Second, func() bool {
		code, _ := s.tryGet("/healthz")
		return code == 200
	}, "the server process's /healthz")
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// TestServeCrashKeepsTheRecording: a `livestream serve` process killed
// with SIGKILL mid-publish, then started again on the same data
// directory, completes the recording from its spool: the VOD lists every
// segment spooled before the kill, and plays.
func TestServeCrashKeepsTheRecording(t *testing.T) {
	testenv.NeedTool(t, "ffmpeg")
	testenv.NeedTool(t, "ffprobe")
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, logs: &testenv.LogBuffer{}}
	s.cfg.Serve = ServeConfig{
		RTMPAddr: testenv.FreeAddr(t), HTTPAddr: testenv.FreeAddr(t), AdminAddr: testenv.FreeAddr(t),
		AdminToken: "test-admin-token", DataDir: filepath.Join(dir, "data"),
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	first := startChild(t, bin, s, config)
	k := s.createChannel("crashing")
	pub := s.publish(k.StreamKey, 60)

	var info struct {
		Recording *struct {
			Session  string `json:"session"`
			Segments int64  `json:"segments"`
		} `json:"recording"`
	}
	testenv.WaitFor(t, 30*time.Second, func() bool {
		code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
		return code == 200 && json.Unmarshal(body, &info) == nil && info.Recording != nil && info.Recording.Segments >= 3
	}, "three segments spooled")
	spooled := info.Recording.Segments
	first.kill()
	pub.cmd.Process.Kill()
	pub.done <- <-pub.done // the cleanup waits for it too

	second := startChild(t, bin, s, config)
	var list []Recording
	testenv.WaitFor(t, 15*time.Second, func() bool {
		list = s.recordings(k.ChannelID)
		return len(list) == 1 && list[0].State != "recording"
	}, "the interrupted recording completed by the restarted server")
	r := list[0]
	if r.ID != info.Recording.Session || r.State != "complete" || !r.Interrupted || int64(r.Segments) < spooled {
		t.Errorf("recording after the crash: %+v; want complete, interrupted, with at least the %d segments spooled before the kill", r, spooled)
	}
	pl := s.get(r.URL)
	uris, total := vodPlaylist(t, pl)
	if len(uris) != r.Segments {
		t.Errorf("VOD playlist lists %d segments, the recording %d:\n%s", len(uris), r.Segments, pl)
	}
	if d := testenv.ProbeDuration(t, "http://"+s.cfg.Serve.HTTPAddr+r.URL); math.Abs(d-total) > 0.5 || d < float64(spooled)*2-1 {
		t.Errorf("ffprobe plays the recording for %.2f s; its playlist says %.2f s, %d segments were spooled", d, total, spooled)
	}
	second.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-second.exited:
	case <-time.After(20 * time.Second):
		t.Error("the server did not stop within 20 s of SIGTERM")
	}
}
