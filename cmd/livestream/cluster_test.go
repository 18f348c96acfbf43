package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// role is a `livestream server` or `livestream origin` process.
type role struct {
	name   string
	cmd    *exec.Cmd
	logs   *testenv.LogBuffer
	exited chan struct{}
}

// startRole runs the binary with args and the Redis URL in the
// environment, as a deployment would give it, and waits for /healthz on
// healthAddr.
func startRole(t *testing.T, bin, redisURL, name, healthAddr string, args ...string) *role {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LIVESTREAM_REDIS_URL="+redisURL)
	r := &role{name: name, cmd: cmd, logs: &testenv.LogBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, r.logs.String())
		}
	})
	testenv.WaitFor(t, 20*time.Second, func() bool {
		select {
		case <-r.exited:
			t.Fatalf("%s exited:\n%s", name, r.logs.String())
		default:
		}
		code, _ := httpGet("http://" + healthAddr + "/healthz")
		return code == http.StatusOK
	}, name+"'s /healthz")
	return r
}

func (r *role) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

var quickClient = &http.Client{Timeout: 5 * time.Second}

func httpGet(url string) (int, string) {
	resp, err := quickClient.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClusterServersAndOrigin runs a cluster on 127.0.0.1: a Redis with a
// password, two `livestream server` processes and one `livestream origin`.
// A stream published to each server plays through the origin, each routed
// to its own server; a server at --max-streams refuses another publish;
// SIGKILL of a server makes its route expire within the TTL, after which
// the origin answers 404 at once while the other stream plays on, also
// through a restarted origin. No process logs a stream key or the Redis
// password.
func TestClusterServersAndOrigin(t *testing.T) {
	testenv.NeedTool(t, "ffmpeg")
	testenv.NeedTool(t, "ffprobe")
	const password = "redis-pw-7f3a9c"
	redisURL := "redis://:" + password + "@" + testenv.StartRedis(t, "--requirepass", password) + "/0"

	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}

	// Channels, made with the CLI on the cluster's Redis.
	var keys []channelKeys
	for _, name := range []string{"alpha", "beta", "gamma"} {
		k := keysJSON(t, "create", name, "--json", "--redis-url", redisURL)
		keys = append(keys, channelKeys{ChannelID: k.ChannelID, StreamKey: k.StreamKey, PlaybackID: k.PlaybackID})
	}

	const ttl = 2 * time.Second
	type node struct {
		id, rtmp, internal string
		proc               *role
	}
	nodes := []*node{{id: "server-a"}, {id: "server-b"}}
	for i, n := range nodes {
		n.rtmp, n.internal = testenv.FreeAddr(t), testenv.FreeAddr(t)
		args := []string{"server", "--config", config, "--rtmp-addr", n.rtmp, "--internal-http-addr", n.internal,
			"--advertise-addr", n.internal, "--server-id", n.id, "--route-ttl", ttl.String(), "--grace", "3s",
			"--data-dir", filepath.Join(dir, n.id), "--record=false", "--log-format", "json"}
		if i == 1 {
			args = append(args, "--max-streams", "1")
		}
		n.proc = startRole(t, bin, redisURL, n.id, n.internal, args...)
	}
	originAddr := testenv.FreeAddr(t)
	org := startRole(t, bin, redisURL, "origin", originAddr,
		"origin", "--http-addr", originAddr, "--cache-bytes", "64MiB", "--record=false", "--log-format", "json")

	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s, err := reg.Servers(ctx)
		return err == nil && len(s) == 2
	}, "both servers' heartbeats")

	// One stream on each server.
	for i, n := range nodes {
		(&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: n.rtmp}}}).publish(keys[i].StreamKey, 120)
	}
	for i, n := range nodes {
		pid := keys[i].PlaybackID
		testenv.WaitFor(t, 30*time.Second, func() bool {
			code, _ := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
			return code == http.StatusOK
		}, "stream "+pid+" through the origin")
		r, err := reg.Route(ctx, pid)
		if err != nil || r.Server != n.id || r.Addr != n.internal {
			t.Fatalf("route of %s = %+v, %v; want server %s at %s", pid, r, err, n.id, n.internal)
		}
		p := testenv.Probe(t, "http://"+originAddr+"/hls/"+pid+"/live.m3u8")
		var video, audio bool
		for _, s := range p.Streams {
			video = video || (s.CodecType == "video" && s.CodecName == "h264" && s.Width == 640 && s.Height == 360)
			audio = audio || (s.CodecType == "audio" && s.CodecName == "aac")
		}
		if !video || !audio {
			t.Errorf("stream %s through the origin: ffprobe found %+v, want 640x360 H.264 and AAC", pid, p.Streams)
		}
	}
	if servers, err := reg.Servers(ctx); err != nil || len(servers) != 2 {
		t.Errorf("Servers() = %+v, %v", servers, err)
	} else {
		for _, s := range servers {
			if s.Streams != 1 {
				t.Errorf("heartbeat of %s says %d streams, want 1", s.ID, s.Streams)
			}
		}
	}

	// server-b is at its --max-streams: the third channel is refused.
	over := (&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: nodes[1].rtmp}}}).publish(keys[2].StreamKey, 30)
	if err := over.wait(t, 20*time.Second); err == nil {
		t.Error("a publish beyond --max-streams 1 was taken")
	}
	if _, err := reg.Route(ctx, keys[2].PlaybackID); !errors.Is(err, registry.ErrNoRoute) {
		t.Errorf("refused stream has a route: %v", err)
	}

	// SIGKILL server-a: its route expires within the TTL, the origin
	// answers 404 without hanging, and server-b's stream plays on.
	killed := time.Now()
	nodes[0].proc.kill()
	pidA, pidB := keys[0].PlaybackID, keys[1].PlaybackID
	testenv.WaitFor(t, ttl+2*time.Second, func() bool {
		_, err := reg.Route(ctx, pidA)
		return errors.Is(err, registry.ErrNoRoute)
	}, "the killed server's route to expire")
	if d := time.Since(killed); d > ttl+time.Second {
		t.Errorf("route expired %v after the kill; want within the %v TTL", d, ttl)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		start := time.Now()
		code, _ := httpGet("http://" + originAddr + "/hls/" + pidA + "/360p/index.m3u8")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("origin took %v to answer for a stream whose server is gone", d)
		}
		if code == http.StatusOK {
			return false // the media playlist cached for at most 1 s
		}
		if code != http.StatusNotFound && code != http.StatusServiceUnavailable {
			t.Fatalf("origin answered %d for a stream whose server is gone; want 404 or 503", code)
		}
		return code == http.StatusNotFound
	}, "the origin to answer 404 for the killed server's stream")
	if code, body := httpGet("http://" + originAddr + "/hls/" + pidB + "/360p/index.m3u8"); code != http.StatusOK || len(segments([]byte(body))) == 0 {
		t.Errorf("surviving server's stream through the origin: %d\n%s", code, body)
	}
	if servers, err := reg.Servers(ctx); err != nil || len(servers) != 1 || servers[0].ID != "server-b" {
		t.Errorf("Servers() after the kill = %+v, %v; want server-b alone", servers, err)
	}

	// An origin keeps no state: a new one serves the same streams.
	org.kill()
	org2 := startRole(t, bin, redisURL, "origin (restarted)", originAddr,
		"origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")
	if code, body := httpGet("http://" + originAddr + "/hls/" + pidB + "/360p/index.m3u8"); code != http.StatusOK || len(segments([]byte(body))) == 0 {
		t.Errorf("surviving server's stream through the restarted origin: %d\n%s", code, body)
	}
	if code, _ := httpGet("http://" + originAddr + "/hls/" + pidA + "/360p/index.m3u8"); code != http.StatusNotFound {
		t.Errorf("killed server's stream through the restarted origin: %d, want 404", code)
	}

	// Re-publish the killed server's channel through a proxy: server-b is
	// full, so it lands on a new server-c, and plays through the origin.
	cRTMP, cInternal := testenv.FreeAddr(t), testenv.FreeAddr(t)
	srvC := startRole(t, bin, redisURL, "server-c", cInternal, "server", "--config", config, "--rtmp-addr", cRTMP,
		"--internal-http-addr", cInternal, "--advertise-addr", cInternal, "--server-id", "server-c",
		"--route-ttl", ttl.String(), "--grace", "3s", "--data-dir", filepath.Join(dir, "server-c"), "--record=false", "--log-format", "json")
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s, err := reg.Servers(ctx)
		return err == nil && len(s) == 2
	}, "server-c's heartbeat")
	proxyRTMP, proxyHealth := testenv.FreeAddr(t), testenv.FreeAddr(t)
	prx := startRole(t, bin, redisURL, "proxy", proxyHealth, "proxy", "--rtmp-addr", proxyRTMP, "--health-addr", proxyHealth, "--log-format", "json")
	(&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: proxyRTMP}}}).publish(keys[0].StreamKey, 60)
	testenv.WaitFor(t, 30*time.Second, func() bool {
		code, body := httpGet("http://" + originAddr + "/hls/" + pidA + "/360p/index.m3u8")
		return code == http.StatusOK && len(segments([]byte(body))) > 0
	}, "the re-published stream through the proxy, playing through the origin")
	if r, err := reg.Route(ctx, pidA); err != nil || r.Server != "server-c" {
		t.Errorf("re-published stream's route = %+v, %v; want server-c (server-b is full)", r, err)
	}
	if _, m := httpGet("http://" + proxyHealth + "/metrics"); !strings.Contains(m, "livestream_proxy_connections_total 1") {
		t.Errorf("proxy metrics do not count the publish:\n%s", m)
	}

	// Nothing the processes wrote holds a secret.
	for _, r := range []*role{nodes[0].proc, nodes[1].proc, org, org2, srvC, prx} {
		logs := r.logs.String()
		if strings.Contains(logs, password) {
			t.Errorf("%s's log holds the Redis password", r.name)
		}
		for _, k := range keys {
			if strings.Contains(logs, k.StreamKey) {
				t.Errorf("%s's log holds the stream key of %s", r.name, k.PlaybackID)
			}
		}
	}
}
