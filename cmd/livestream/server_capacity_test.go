package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/registry"
)

// fakeCPU is a CPU clock that runs at a share the test sets: the gauge
// reading it measures that share.
type fakeCPU struct {
	mu    sync.Mutex
	at    time.Time
	used  time.Duration
	share float64
}

func (f *fakeCPU) time() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if !f.at.IsZero() {
		f.used += time.Duration(f.share * float64(now.Sub(f.at)))
	}
	f.at = now
	return f.used
}

func (f *fakeCPU) set(share float64) {
	f.time()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.share = share
}

// TestCPUGauge: the share is the mean over the window, so one busy second
// does not make the server refuse publishes, five do, and five calm ones
// end it.
func TestCPUGauge(t *testing.T) {
	var used time.Duration
	g := &cpuGauge{used: func() time.Duration { return used }, cores: 2, every: time.Second, window: 5 * time.Second, max: 0.85}
	at := time.Unix(1_700_000_000, 0)
	run := func(seconds int, share float64) {
		for range seconds {
			at = at.Add(time.Second)
			used += time.Duration(share * 2 * float64(time.Second))
			g.sample(at)
		}
	}
	g.sample(at)
	if s := g.Share(); s != 0 || g.Overloaded() {
		t.Fatalf("one sample: share %v, overloaded %v; want 0, false", s, g.Overloaded())
	}
	check := func(what string, want float64, overloaded bool) {
		t.Helper()
		if s := g.Share(); s < want-1e-9 || s > want+1e-9 || g.Overloaded() != overloaded {
			t.Errorf("%s: share %v, overloaded %v; want %v, %v", what, s, g.Overloaded(), want, overloaded)
		}
	}
	run(2, 0.5)
	check("2 s at 50%", 0.5, false)
	run(6, 0.5)
	check("8 s at 50%", 0.5, false)
	run(1, 1)
	check("one second at 100%", 0.6, false)
	run(4, 1)
	check("5 s at 100%", 1, true)
	run(2, 0.2)
	check("2 s at 20% after 100%", 0.68, false)
	run(5, 0.2)
	check("5 s at 20%", 0.2, false)
	g.sample(at.Add(-time.Second)) // the clock went back
	check("a sample from the past", 0.2, false)
	if n := len(g.samples); n > 6 {
		t.Errorf("%d samples kept for a 5 s window of 1 s samples", n)
	}
	run(5, 1)
	g.max = 0
	if g.Overloaded() {
		t.Error("a gauge without max reports overloaded at 100%")
	}
}

// clusterNode is a `livestream server` running in this process on free
// ports, with a test's CPU gauge.
type clusterNode struct {
	t      *testing.T
	cfg    Config
	logs   *testenv.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

func startClusterNode(t *testing.T, redisURL string, configure func(*Config)) *clusterNode {
	t.Helper()
	testenv.NeedTool(t, "ffmpeg")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transcode = pipeline.Config{
		SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second, PlaylistWindow: 4,
		Ladder: []pipeline.Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}},
	}.WithDefaults()
	off := false
	cfg.Serve.Record = &off
	cfg.Serve.RedisURL = redisURL
	cfg.Serve.RTMPAddr = testenv.FreeAddr(t)
	cfg.Serve.DataDir = t.TempDir()
	cfg.Serve.Grace = 2 * time.Second
	cfg.Cluster.InternalHTTPAddr = testenv.FreeAddr(t)
	cfg.Cluster.AdvertiseAddr = cfg.Cluster.InternalHTTPAddr
	cfg.Cluster.ServerID = "node-" + strconv.Itoa(testenv.FreePort(t))
	cfg.Cluster.RouteTTL = 1500 * time.Millisecond
	// A test's server stops at once; a test of the drain asks for it.
	noDrain := time.Duration(0)
	cfg.Cluster.DrainTimeout = &noDrain
	if configure != nil {
		configure(&cfg)
	}
	n := &clusterNode{t: t, cfg: cfg, logs: &testenv.LogBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- clusterServer(ctx, cfg, n.logs.Logger()) }()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", n.logs.String())
		}
	})
	testenv.WaitFor(t, 10*time.Second, func() bool {
		code, _ := httpGet("http://" + cfg.Cluster.InternalHTTPAddr + "/healthz")
		return code == http.StatusOK
	}, "the server's /healthz")
	return n
}

func (n *clusterNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("clusterServer: %v", err)
		}
	case <-time.After(30 * time.Second):
		n.t.Fatal("clusterServer did not return within 30 s of shutdown")
	}
}

func (n *clusterNode) publish(key string, seconds float64) *publisher {
	return (&server{t: n.t, cfg: Config{Serve: ServeConfig{RTMPAddr: n.cfg.Serve.RTMPAddr}}}).publish(key, seconds)
}

// heartbeat waits for this server's heartbeat in Redis to satisfy ok.
func (n *clusterNode) heartbeat(reg *registry.RedisStore, what string, ok func(registry.ServerInfo) bool) registry.ServerInfo {
	n.t.Helper()
	var got registry.ServerInfo
	testenv.WaitFor(n.t, 10*time.Second, func() bool {
		servers, err := reg.Servers(context.Background())
		for _, s := range servers {
			if err == nil && s.ID == n.cfg.Cluster.ServerID && ok(s) {
				got = s
				return true
			}
		}
		return false
	}, what)
	return got
}

var hlsCounterRe = regexp.MustCompile(`(?m)^livestream_server_hls_requests_total\{kind="(\w+)"\} (\d+)$`)

// hlsCounts scrapes the server's /metrics for its HLS request counter.
func hlsCounts(t *testing.T, addr string) map[string]int {
	t.Helper()
	code, body := httpGet("http://" + addr + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	counts := map[string]int{}
	for _, m := range hlsCounterRe.FindAllStringSubmatch(body, -1) {
		counts[m[1]], _ = strconv.Atoi(m[2])
	}
	if len(counts) != 3 {
		t.Fatalf("/metrics has livestream_server_hls_requests_total for %v, want segment, playlist and other", counts)
	}
	return counts
}

// TestServerMaxCPU: a server whose CPU share (driven by a test clock) is
// at --max-cpu says so in its heartbeat (load ≥ 1) and refuses a publish
// with "server is at capacity"; once the share is down, it takes one,
// which its internal listener serves, each request counted once by kind.
func TestServerMaxCPU(t *testing.T) {
	clearKeysEnv(t)
	url := "redis://" + testenv.StartRedis(t) + "/0"
	reg, err := registry.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	k := keysJSON(t, "create", "busy", "--json", "--redis-url", url)

	cpu := &fakeCPU{share: 0.95}
	n := startClusterNode(t, url, func(c *Config) {
		c.Cluster.MaxCPU = 0.85
		c.Cluster.cpu = &cpuGauge{used: cpu.time, cores: 1, every: 50 * time.Millisecond, window: 300 * time.Millisecond, max: 0.85}
	})
	hb := n.heartbeat(reg, "a heartbeat at 95% CPU", func(s registry.ServerInfo) bool { return s.CPU >= 0.9 })
	if hb.MaxCPU != 0.85 || hb.Load() < 1 {
		t.Errorf("heartbeat %+v: want max_cpu 0.85 and a load of 1 or more", hb)
	}
	p := n.publish(k.StreamKey, 2)
	if err := p.wait(t, 20*time.Second); err == nil || !strings.Contains(p.stderr.String(), "server is at capacity") {
		t.Fatalf("publish at 95%% CPU: %v, %q; want refused as at capacity", err, p.stderr.String())
	}

	cpu.set(0.3)
	hb = n.heartbeat(reg, "a heartbeat at 30% CPU", func(s registry.ServerInfo) bool { return s.CPU < 0.4 })
	if hb.Load() >= 1 {
		t.Errorf("heartbeat %+v: load %v at 30%% of a 85%% limit", hb, hb.Load())
	}
	p = n.publish(k.StreamKey, 30)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		_, err := reg.Route(context.Background(), k.PlaybackID)
		return err == nil
	}, "the stream's route")

	// The HLS request counter: each request counted once, by kind, with
	// the answer's status whatever it is; /metrics and /healthz not.
	addr := n.cfg.Cluster.InternalHTTPAddr
	before := hlsCounts(t, addr)
	base := "http://" + addr + "/hls/" + k.PlaybackID
	code, pl := httpGet(base + "/360p/index.m3u8")
	segs := segments([]byte(pl))
	if code != http.StatusOK || len(segs) == 0 {
		t.Fatalf("rendition playlist: %d %q", code, pl)
	}
	for _, r := range []struct {
		path string
		code int
	}{
		{"/live.m3u8", 200}, {"/360p/" + segs[0] + segExt([]byte(pl)), 200}, {"/360p/" + segs[0] + segExt([]byte(pl)), 200},
		{"/360p/1.ts", 404}, {"/360p/init.mp4", 404}, {"/360p/1.m4s", 404}, {"/nope.m3u8", 404},
		{"/", 404}, {"/360p/", 404},
	} {
		if code, _ := httpGet(base + r.path); code != r.code {
			t.Errorf("GET %s: %d, want %d", r.path, code, r.code)
		}
	}
	httpGet("http://" + addr + "/healthz")
	after := hlsCounts(t, addr)
	for kind, want := range map[string]int{"segment": 5, "playlist": 3, "other": 2} {
		if got := after[kind] - before[kind]; got != want {
			t.Errorf("%s requests counted: %d, want %d", kind, got, want)
		}
	}
	p.cmd.Process.Kill()
	if logs := n.logs.String(); strings.Contains(logs, k.StreamKey) {
		t.Error("the server's log holds the stream key")
	}
	if body := fmt.Sprint(httpGet("http://" + addr + "/metrics")); strings.Contains(body, k.StreamKey) {
		t.Error("/metrics holds the stream key")
	}
}
