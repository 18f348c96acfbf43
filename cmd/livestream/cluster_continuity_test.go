package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// originWatch polls a media playlist through the origin as a player does
// and keeps what it saw: every segment number, the discontinuities, the
// end, and the answers that were not 200.
type originWatch struct {
	mu       sync.Mutex
	seqs     map[int64]time.Time // first seen
	discs    int                 // EXT-X-DISCONTINUITY lines seen in one playlist, at most
	ended    bool
	failures []int // answers other than 200 once a segment was seen
	stop     chan struct{}
	done     chan struct{}
}

func watchOrigin(url string) *originWatch {
	w := &originWatch{seqs: map[int64]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			code, body := httpGet(url)
			w.mu.Lock()
			if code == 200 {
				now := time.Now()
				for _, m := range segRe.FindAllStringSubmatch(body, -1) {
					if n := numeric(m[1]); w.seqs[n].IsZero() {
						w.seqs[n] = now
					}
				}
				w.discs = max(w.discs, strings.Count(body, "#EXT-X-DISCONTINUITY\n"))
				w.ended = w.ended || strings.Contains(body, "#EXT-X-ENDLIST")
			} else if len(w.seqs) > 0 {
				w.failures = append(w.failures, code)
			}
			ended := w.ended
			w.mu.Unlock()
			if ended {
				return
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *originWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// sorted is every segment number seen, in order.
func (w *originWatch) sorted() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s []int64
	for n := range w.seqs {
		s = append(s, n)
	}
	slices.Sort(s)
	return s
}

// seenAfter is the first segment above n and when it was first seen.
func (w *originWatch) seenAfter(n int64) (int64, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := int64(-1)
	for m := range w.seqs {
		if m > n && (best < 0 || m < best) {
			best = m
		}
	}
	return best, w.seqs[best], best >= 0
}

// TestClusterStreamMovesServers: one channel's stream, watched through the
// origin, outlives two moves between the cluster's servers. First its
// publisher drops and publishes again through the proxy, which places it
// on the other, idle server: that server continues the stream (segment
// numbers go on after one left out, EXT-X-DISCONTINUITY) and the first
// server stops its copy without ending it. Then that server is SIGKILLed
// under the publisher, which publishes again and lands back on the first:
// the stream goes on again. Each time viewers see it again within 10 s of
// the new publish; the playlist ends only at the last, clean unpublish.
func TestClusterStreamMovesServers(t *testing.T) {
	t.Parallel() // real processes that mostly wait: two such tests share the 2 cores
	testenv.NeedTool(t, "ffmpeg")
	redisURL := "redis://" + testenv.StartRedis(t) + "/0"
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(strings.Replace(crashConfig, "segment_duration: 2s", "segment_duration: 1s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	k := keysJSON(t, "create", "moving", "--json", "--redis-url", redisURL)

	servers := map[string]*role{}
	for _, id := range []string{"server-a", "server-b"} {
		rtmp, internal := testenv.FreeAddr(t), testenv.FreeAddr(t)
		servers[id] = startRole(t, bin, redisURL, id, internal, "server", "--config", config, "--rtmp-addr", rtmp,
			"--internal-http-addr", internal, "--advertise-addr", internal, "--server-id", id, "--route-ttl", "2s",
			"--grace", "5s", "--reconnect-window", "20s", "--data-dir", filepath.Join(dir, id), "--record=false", "--log-format", "json")
	}
	originAddr := testenv.FreeAddr(t)
	startRole(t, bin, redisURL, "origin", originAddr, "origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")
	proxyRTMP, proxyHealth := testenv.FreeAddr(t), testenv.FreeAddr(t)
	startRole(t, bin, redisURL, "proxy", proxyHealth, "proxy", "--rtmp-addr", proxyRTMP, "--health-addr", proxyHealth, "--log-format", "json")
	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testenv.WaitFor(t, 10*time.Second, func() bool { s, err := reg.Servers(ctx); return err == nil && len(s) == 2 }, "both servers' heartbeats")
	viaProxy := &server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: proxyRTMP}}}
	holder := func() string {
		r, err := reg.Route(ctx, k.PlaybackID)
		if err != nil {
			return ""
		}
		return r.Server
	}

	watch := watchOrigin("http://" + originAddr + "/hls/" + k.PlaybackID + "/360p/index.m3u8")
	defer watch.close()
	pubCtx, kill := context.WithCancel(ctx)
	pub := launch(pubCtx, nil, time.Minute, ffmpegPublisher(t, viaProxy, k.StreamKey, timingCase{fps: 30, seconds: 60}))
	testenv.WaitFor(t, 30*time.Second, func() bool { return len(watch.sorted()) >= 3 }, "three segments through the origin")
	first := holder()

	// 1. The publisher drops; it comes back through the proxy, which
	// places it on the idle server.
	kill()
	<-pub.done
	last := watch.sorted()[len(watch.sorted())-1]
	pubCtx, kill = context.WithCancel(ctx)
	again := time.Now()
	pub = launch(pubCtx, nil, time.Minute, ffmpegPublisher(t, viaProxy, k.StreamKey, timingCase{fps: 30, seconds: 60}))
	testenv.WaitFor(t, 20*time.Second, func() bool { h := holder(); return h != "" && h != first }, "the route on the other server")
	second := holder()
	var back int64
	testenv.WaitFor(t, 20*time.Second, func() bool {
		n, at, ok := watch.seenAfter(last + 2) // the old server's slate may list up to one more, then one is left out
		back = n
		return ok && at.After(again)
	}, "the stream through the origin after the move")
	_, at, _ := watch.seenAfter(last + 2)
	t.Logf("moved %s → %s: seen again %v after the new publish", first, second, at.Sub(again).Round(time.Millisecond))
	if d := at.Sub(again); d > 10*time.Second {
		t.Errorf("viewers saw the stream again %v after the new publish, want within 10 s", d)
	}

	// 2. The server under the publisher dies.
	testenv.WaitFor(t, 20*time.Second, func() bool { return len(watch.sorted()) > 0 && watch.sorted()[len(watch.sorted())-1] >= back+2 }, "segments from the second server")
	servers[second].kill()
	<-pub.done
	kill()
	last = watch.sorted()[len(watch.sorted())-1]
	again = time.Now()
	pub = launch(ctx, nil, time.Minute, ffmpegPublisher(t, viaProxy, k.StreamKey, timingCase{fps: 30, seconds: 8}))
	testenv.WaitFor(t, 20*time.Second, func() bool {
		n, at, ok := watch.seenAfter(last)
		return ok && at.After(again) && n >= last+2
	}, "the stream through the origin after its server died")
	_, at, _ = watch.seenAfter(last)
	t.Logf("server %s killed: seen again %v after the new publish, on %s", second, at.Sub(again).Round(time.Millisecond), holder())
	if d := at.Sub(again); d > 10*time.Second {
		t.Errorf("viewers saw the stream again %v after the new publish, want within 10 s", d)
	}
	<-pub.done
	if pub.err != nil {
		t.Errorf("the last publish: %v\n%s", pub.err, pub.output)
	}
	testenv.WaitFor(t, 20*time.Second, func() bool { watch.mu.Lock(); defer watch.mu.Unlock(); return watch.ended }, "the end through the origin")
	watch.close()

	seqs := watch.sorted()
	var gaps []int64
	for i := 1; i < len(seqs); i++ {
		if d := seqs[i] - seqs[i-1]; d != 1 {
			gaps = append(gaps, d)
		}
	}
	t.Logf("segments %d..%d (%d), gaps %v, %d discontinuities in a playlist, failures %v", seqs[0], seqs[len(seqs)-1], len(seqs), gaps, watch.discs, watch.failures)
	// Each move leaves out one number; nothing else is missing.
	for _, g := range gaps {
		if g != 2 {
			t.Errorf("segment numbers jump by %d: %v", g, seqs)
		}
	}
	if len(gaps) > 2 || watch.discs == 0 {
		t.Errorf("%d jumps, %d discontinuities: want one of each per move", len(gaps), watch.discs)
	}
	// A 404 tells a player the stream is gone; while the server under the
	// stream is dead the origin may answer 503, which players retry.
	for _, code := range watch.failures {
		if code == 404 {
			t.Errorf("the origin answered 404 for the live playlist: %v", watch.failures)
			break
		}
	}
}

// twoNodes starts a Redis and two servers on it, in this process, and
// creates a channel. The first server drains its streams when it stops.
func twoNodes(t *testing.T, name string) (a, b *clusterNode, reg *registry.RedisStore, ch registry.Channel, key string) {
	t.Helper()
	redisURL := "redis://" + testenv.StartRedis(t) + "/0"
	a = startClusterNode(t, redisURL, func(c *Config) {
		drain := 25 * time.Second
		c.Cluster.DrainTimeout = &drain
	})
	b = startClusterNode(t, redisURL, nil)
	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ch, key, err = reg.Create(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, reg, ch, key
}

// TestClusterOnePublisherPerChannel: the same key published to two
// servers at once (past the proxy) is one stream: the later publish takes
// the channel over, the earlier server disconnects its publisher and
// stops its copy within a segment, and the route names the later server.
func TestClusterOnePublisherPerChannel(t *testing.T) {
	t.Parallel() // real processes that mostly wait: two such tests share the 2 cores
	a, b, reg, ch, key := twoNodes(t, "twice")
	ctx := context.Background()
	route := func() registry.Route { r, _ := reg.Route(ctx, ch.PlaybackID); return r }
	first := a.publish(key, 60)
	testenv.WaitFor(t, 20*time.Second, func() bool { return route().Server == a.cfg.Cluster.ServerID }, "the route on the first server")
	second := b.publish(key, 60)
	start := time.Now()
	if err := first.wait(t, 15*time.Second); err == nil {
		t.Error("the first publisher ended cleanly; want it disconnected")
	}
	t.Logf("first publisher disconnected %v after the second publish", time.Since(start).Round(time.Millisecond))
	testenv.WaitFor(t, 10*time.Second, func() bool { return route().Server == b.cfg.Cluster.ServerID }, "the route on the second server")
	if !strings.Contains(a.logs.String(), "publishes on another server now") {
		t.Error("the first server did not stop its copy")
	}
	select {
	case err := <-second.done:
		second.done <- err
		t.Errorf("the second publisher stopped: %v\n%s", err, second.stderr.String())
	default:
	}
}

// TestClusterServerDrains: a server told to stop (SIGTERM, here its
// context) leaves the proxies' list, asks its publisher to publish again
// and disconnects it; the publisher lands on the other server, which
// continues the stream; the draining server then stops, its stream moved,
// long before its drain timeout.
func TestClusterServerDrains(t *testing.T) {
	t.Parallel() // real processes that mostly wait: two such tests share the 2 cores
	a, b, reg, ch, key := twoNodes(t, "drained")
	ctx := context.Background()
	route := func() registry.Route { r, _ := reg.Route(ctx, ch.PlaybackID); return r }
	playlist := func(n *clusterNode) string {
		_, body := httpGet("http://" + n.cfg.Cluster.InternalHTTPAddr + "/hls/" + ch.PlaybackID + "/360p/index.m3u8")
		return body
	}
	first := a.publish(key, 60)
	testenv.WaitFor(t, 20*time.Second, func() bool { return route().Server == a.cfg.Cluster.ServerID }, "the route on the first server")
	stopped := make(chan time.Duration, 1)
	start := time.Now()
	go func() { a.stop(); stopped <- time.Since(start) }()
	if err := first.wait(t, 10*time.Second); err == nil {
		t.Error("the publisher of the draining server ended cleanly; want it disconnected")
	}
	lastA := segRe.FindAllStringSubmatch(playlist(a), -1)
	// The publisher comes back, as OBS does; the proxy, which no longer
	// lists the draining server, places it on the other.
	servers, err := reg.Servers(ctx)
	if err != nil || len(servers) != 1 || servers[0].ID != b.cfg.Cluster.ServerID {
		t.Errorf("servers in the registry while draining: %+v, %v; want only the other one", servers, err)
	}
	b.publish(key, 60)
	select {
	case d := <-stopped:
		t.Logf("the draining server stopped %v after SIGTERM", d.Round(time.Millisecond))
		if d > 20*time.Second {
			t.Errorf("the draining server took %v, as long as its drain timeout", d)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the draining server did not stop")
	}
	if !strings.Contains(a.logs.String(), "drained: every stream moved or ended") {
		t.Error("the stream did not move before the server stopped")
	}
	testenv.WaitFor(t, 20*time.Second, func() bool { return route().Server == b.cfg.Cluster.ServerID }, "the route on the other server")
	plB := playlist(b)
	segsB := segRe.FindAllStringSubmatch(plB, -1)
	if len(lastA) == 0 || len(segsB) == 0 || numeric(segsB[0][1]) <= numeric(lastA[len(lastA)-1][1]) || !strings.Contains(plB, "#EXT-X-DISCONTINUITY") {
		t.Errorf("the other server does not continue the stream: first server's last %v, other's playlist:\n%s", lastA, plB)
	}
}
