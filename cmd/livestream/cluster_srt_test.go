package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// TestClusterSRT: a `livestream server` started with --srt-addr (and an
// SRT passphrase from its config file)
// takes an HEVC+AAC publish over SRT checked against the channels in
// Redis; its route goes to Redis and the stream plays through a
// `livestream origin` (ffprobe: the H.264 ladder with AAC). A wrong key is
// refused. No process logs the stream key or the passphrase.
func TestClusterSRT(t *testing.T) {
	t.Parallel() // real processes that mostly wait
	testenv.NeedTool(t, "ffmpeg")
	testenv.NeedTool(t, "ffprobe")
	redisURL := "redis://" + testenv.StartRedis(t) + "/0"
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	const passphrase = "srt-pass-5e1c0b"
	if err := os.WriteFile(config, []byte(crashConfig+"serve:\n  srt_passphrase: "+passphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := keysJSON(t, "create", "srt", "--json", "--redis-url", redisURL)
	srtAddr, internal := testenv.FreeUDPAddr(t), testenv.FreeAddr(t)
	srv := startRole(t, bin, redisURL, "server", internal, "server", "--config", config, "--rtmp-addr", testenv.FreeAddr(t),
		"--srt-addr", srtAddr, "--internal-http-addr", internal, "--advertise-addr", internal, "--server-id", "server-srt",
		"--data-dir", filepath.Join(dir, "server"), "--record=false", "--log-format", "json")
	originAddr := testenv.FreeAddr(t)
	org := startRole(t, bin, redisURL, "origin", originAddr, "origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")

	via := &server{t: t, cfg: Config{Serve: ServeConfig{SRTConfig: SRTConfig{SRTAddr: srtAddr}}}}
	wrongKey := k.StreamKey[:len(k.StreamKey)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(k.StreamKey, "a")]
	wrong := via.srtPublish(wrongKey+"&passphrase="+passphrase, "libx264", "aac", "2")
	pub := via.srtPublish(k.StreamKey+"&passphrase="+passphrase, "libx265", "aac", "10")
	pid := k.PlaybackID
	testenv.WaitFor(t, 40*time.Second, func() bool {
		code, body := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
		return code == http.StatusOK && len(segments([]byte(body))) >= 2
	}, "the SRT publish playing through the origin")
	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if r, err := reg.Route(context.Background(), pid); err != nil || r.Server != "server-srt" {
		t.Errorf("route %+v, %v", r, err)
	}
	p := testenv.Probe(t, "http://"+originAddr+"/hls/"+pid+"/live.m3u8")
	var video, audio bool
	for _, s := range p.Streams {
		video = video || (s.CodecName == "h264" && s.Width == 640 && s.Height == 360)
		audio = audio || s.CodecName == "aac"
	}
	if !video || !audio {
		t.Errorf("through the origin: %+v", p.Streams)
	}
	if err := wrong.wait(t, 20*time.Second); err == nil {
		t.Error("a wrong key published over SRT")
	}
	if err := pub.wait(t, 40*time.Second); err != nil {
		t.Errorf("ffmpeg: %v: %s", err, pub.stderr.String())
	}
	for _, r := range []*role{srv, org} {
		if logs := r.logs.String(); strings.Contains(logs, k.StreamKey) || strings.Contains(logs, passphrase) {
			t.Errorf("%s logs the stream key or the passphrase", r.name)
		}
	}
	if !strings.Contains(srv.logs.String(), "unknown or revoked stream key") {
		t.Error("the server did not log the wrong key's refusal")
	}
}
