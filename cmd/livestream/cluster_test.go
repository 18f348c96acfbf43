package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// TestCluster runs the cluster of issue 6 on 127.0.0.1 as separate
// processes: a Redis with a password, one `livestream proxy`, two
// `livestream server`s and one `livestream origin`, the proxy and the
// servers speaking the PROXY protocol. Four streams published with the
// ffmpeg CLI through the proxy are spread over both servers and each plays
// through the origin; 200 viewers asking the origin at once for a live
// segment cost its server exactly one fetch, counted on the server. After
// a SIGKILL of a server its routes expire within the TTL and the origin
// stops routing there; its channels, published again through the proxy,
// land on the other server and play. A restarted origin serves the same
// streams. No process logs a stream key or the Redis password.
func TestCluster(t *testing.T) {
	t.Parallel() // real processes that mostly wait: two such tests share the 2 cores
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
	var keys []channelKeys
	for _, name := range []string{"alpha", "beta", "gamma", "delta"} {
		k := keysJSON(t, "create", name, "--json", "--redis-url", redisURL)
		keys = append(keys, channelKeys{ChannelID: k.ChannelID, StreamKey: k.StreamKey, PlaybackID: k.PlaybackID})
	}

	const ttl = 2 * time.Second
	type node struct {
		id, rtmp, internal string
		proc               *role
	}
	nodes := map[string]*node{}
	for _, id := range []string{"server-a", "server-b"} {
		n := &node{id: id, rtmp: testenv.FreeAddr(t), internal: testenv.FreeAddr(t)}
		n.proc = startRole(t, bin, redisURL, id, n.internal, "server", "--config", config, "--rtmp-addr", n.rtmp,
			"--internal-http-addr", n.internal, "--advertise-addr", n.internal, "--server-id", id, "--route-ttl", ttl.String(),
			"--grace", "3s", "--data-dir", filepath.Join(dir, id), "--record=false", "--proxy-protocol", "--log-format", "json")
		nodes[id] = n
	}
	originAddr := testenv.FreeAddr(t)
	org := startRole(t, bin, redisURL, "origin", originAddr,
		"origin", "--http-addr", originAddr, "--cache-bytes", "64MiB", "--record=false", "--log-format", "json")
	proxyRTMP, proxyHealth := testenv.FreeAddr(t), testenv.FreeAddr(t)
	prx := startRole(t, bin, redisURL, "proxy", proxyHealth, "proxy", "--rtmp-addr", proxyRTMP, "--health-addr", proxyHealth,
		"--proxy-protocol", "--log-format", "json")

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

	// Four publishes at once through the proxy.
	viaProxy := &server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: proxyRTMP}}}
	for _, k := range keys {
		viaProxy.publish(k.StreamKey, 120)
	}
	playing := func(pid string) bool {
		code, body := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
		return code == http.StatusOK && len(segments([]byte(body))) > 0
	}
	onServer := map[string][]string{}
	for _, k := range keys {
		testenv.WaitFor(t, 40*time.Second, func() bool { return playing(k.PlaybackID) }, "stream "+k.PlaybackID+" through the proxy and the origin")
		r, err := reg.Route(ctx, k.PlaybackID)
		if err != nil || nodes[r.Server] == nil || r.Addr != nodes[r.Server].internal {
			t.Fatalf("route of %s = %+v, %v", k.PlaybackID, r, err)
		}
		onServer[r.Server] = append(onServer[r.Server], k.PlaybackID)
	}
	if len(onServer["server-a"]) != 2 || len(onServer["server-b"]) != 2 {
		t.Errorf("streams by server: %v; want two on each", onServer)
	}
	for _, k := range keys {
		p := testenv.Probe(t, "http://"+originAddr+"/hls/"+k.PlaybackID+"/live.m3u8")
		var video, audio bool
		for _, s := range p.Streams {
			video = video || (s.CodecType == "video" && s.CodecName == "h264" && s.Width == 640 && s.Height == 360)
			audio = audio || (s.CodecType == "audio" && s.CodecName == "aac")
		}
		if !video || !audio {
			t.Errorf("stream %s through the origin: ffprobe found %+v, want 640x360 H.264 and AAC", k.PlaybackID, p.Streams)
		}
	}
	// The servers saw the publishers' addresses through the PROXY
	// protocol, not the proxy's.
	accepted := regexp.MustCompile(`"msg":"publish accepted","component":"ingest","remote":"([^"]+)"`)
	for _, n := range nodes {
		remotes := accepted.FindAllStringSubmatch(n.proc.logs.String(), -1)
		if len(remotes) != 2 {
			t.Errorf("%s logged %d publishes accepted, want 2:\n%s", n.id, len(remotes), n.proc.logs.String())
		}
		for _, r := range remotes {
			if !strings.Contains(prx.logs.String(), `"msg":"publisher spliced","component":"proxy","remote":"`+r[1]+`"`) {
				t.Errorf("%s saw a publisher at %s, which the proxy did not splice: not the publisher's own address", n.id, r[1])
			}
		}
	}

	// 200 viewers at once, for each of the next two segments of a stream:
	// its server serves each segment once.
	pid := keys[0].PlaybackID
	route, err := reg.Route(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	holder := nodes[route.Server]
	seen := map[string]bool{}
	_, body := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
	for _, s := range segments([]byte(body)) {
		seen[s] = true
	}
	for range 2 {
		before := segmentFetches(t, holder.internal)
		var seg string
		testenv.WaitFor(t, 10*time.Second, func() bool {
			_, body := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
			for _, s := range segments([]byte(body)) {
				if !seen[s] {
					seg = s
					return true
				}
			}
			return false
		}, "a new segment")
		seen[seg] = true
		bodies := fetchAtOnce(t, "http://"+originAddr+"/hls/"+pid+"/360p/"+seg+segExt([]byte(body)), 200)
		for i, b := range bodies {
			if len(b) == 0 || !bytes.Equal(b, bodies[0]) {
				t.Fatalf("viewer %d of segment %s got %d bytes, viewer 0 %d", i, seg, len(b), len(bodies[0]))
			}
		}
		if got := segmentFetches(t, holder.internal) - before; got != 1 {
			t.Errorf("200 viewers of segment %s cost its server %d segment fetches, want 1", seg, got)
		}
	}

	// SIGKILL server-a: its routes expire within the TTL; the origin stops
	// routing there without hanging, and answers 503 (its publishers may
	// come back on another server), not 404; server-b's streams play on.
	killed := time.Now()
	nodes["server-a"].proc.kill()
	for _, pid := range onServer["server-a"] {
		testenv.WaitFor(t, ttl+2*time.Second, func() bool {
			_, err := reg.Route(ctx, pid)
			return errors.Is(err, registry.ErrNoRoute)
		}, "the killed server's route of "+pid+" to expire")
	}
	if d := time.Since(killed); d > ttl+time.Second {
		t.Errorf("routes expired %v after the kill; want within the %v TTL", d, ttl)
	}
	for _, pid := range onServer["server-a"] {
		testenv.WaitFor(t, 5*time.Second, func() bool {
			start := time.Now()
			code, _ := httpGet("http://" + originAddr + "/hls/" + pid + "/360p/index.m3u8")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("origin took %v to answer for a stream whose server is gone", d)
			}
			if code != http.StatusOK && code != http.StatusServiceUnavailable {
				t.Fatalf("origin answered %d for a stream whose server is gone; want 503 (it may move to another server)", code)
			}
			return code == http.StatusServiceUnavailable
		}, "the origin to answer 503 for "+pid)
	}
	for _, pid := range onServer["server-b"] {
		if !playing(pid) {
			t.Errorf("server-b's stream %s stopped playing through the origin", pid)
		}
	}

	// The killed server's channels, published again through the proxy,
	// land on server-b and play through the origin.
	for _, k := range keys {
		if slices.Contains(onServer["server-a"], k.PlaybackID) {
			viaProxy.publish(k.StreamKey, 60)
		}
	}
	for _, pid := range onServer["server-a"] {
		testenv.WaitFor(t, 40*time.Second, func() bool { return playing(pid) }, "re-published stream "+pid+" through the origin")
		if r, err := reg.Route(ctx, pid); err != nil || r.Server != "server-b" {
			t.Errorf("re-published stream's route = %+v, %v; want server-b", r, err)
		}
	}

	// An origin keeps no state: a new one serves every stream.
	org.kill()
	org2 := startRole(t, bin, redisURL, "origin (restarted)", originAddr,
		"origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")
	for _, k := range keys {
		if !playing(k.PlaybackID) {
			t.Errorf("stream %s does not play through the restarted origin", k.PlaybackID)
		}
	}
	_, m := httpGet("http://" + proxyHealth + "/metrics")
	if !strings.Contains(m, "livestream_proxy_connections_total 6") {
		t.Errorf("proxy metrics do not count the 6 publishes:\n%s", m)
	}

	for _, r := range []*role{nodes["server-a"].proc, nodes["server-b"].proc, org, org2, prx} {
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

// segmentFetches reads a server's count of segment requests from origins.
func segmentFetches(t *testing.T, internal string) int {
	t.Helper()
	code, m := httpGet("http://" + internal + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("server metrics: %d", code)
	}
	for _, line := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(line, `livestream_server_hls_requests_total{kind="segment"} `); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return int(n)
		}
	}
	t.Fatalf("server metrics have no segment request count:\n%s", m)
	return 0
}

// fetchAtOnce has n clients, each on its own connection, GET url at the
// same moment, and returns their bodies.
func fetchAtOnce(t *testing.T, url string, n int) [][]byte {
	t.Helper()
	bodies := make([][]byte, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			defer c.CloseIdleConnections()
			<-start
			resp, err := c.Get(url)
			if err != nil {
				t.Errorf("viewer %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || err != nil {
				t.Errorf("viewer %d: %d, %v", i, resp.StatusCode, err)
				return
			}
			bodies[i] = b
		})
	}
	close(start)
	wg.Wait()
	return bodies
}
