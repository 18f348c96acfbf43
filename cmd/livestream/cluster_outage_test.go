package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// smallCluster is one `livestream server` and, when asked, one
// `livestream origin` and one `livestream proxy`, over a Redis the test
// can kill and start again.
type smallCluster struct {
	redis     *testenv.Redis
	redisURL  string
	reg       *registry.RedisStore
	server    *role
	rtmp      string // the server's RTMP address
	internal  string // the server's internal HLS address
	origin    *role
	originURL string // http://ORIGIN
	proxy     *role
	proxyRTMP string
}

// clusterOptions says what startSmallCluster runs.
type clusterOptions struct {
	origin, proxy bool
	routeTTL      time.Duration
	grace         time.Duration
}

func startSmallCluster(t *testing.T, o clusterOptions) *smallCluster {
	t.Helper()
	testenv.NeedTool(t, "ffmpeg")
	c := &smallCluster{redis: testenv.StartRedisProcess(t)}
	c.redisURL = "redis://" + c.redis.Addr + "/0"
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	c.rtmp, c.internal = testenv.FreeAddr(t), testenv.FreeAddr(t)
	c.server = startRole(t, bin, c.redisURL, "server", c.internal, "server", "--config", config, "--rtmp-addr", c.rtmp,
		"--internal-http-addr", c.internal, "--advertise-addr", c.internal, "--server-id", "server-a",
		"--route-ttl", o.routeTTL.String(), "--grace", o.grace.String(), "--data-dir", filepath.Join(dir, "server"),
		"--record=false", "--log-format", "json")
	if o.origin {
		addr := testenv.FreeAddr(t)
		c.origin = startRole(t, bin, c.redisURL, "origin", addr, "origin", "--http-addr", addr, "--record=false", "--log-format", "json")
		c.originURL = "http://" + addr
	}
	if o.proxy {
		c.proxyRTMP = testenv.FreeAddr(t)
		health := testenv.FreeAddr(t)
		c.proxy = startRole(t, bin, c.redisURL, "proxy", health, "proxy", "--rtmp-addr", c.proxyRTMP, "--health-addr", health, "--log-format", "json")
	}
	reg, err := registry.OpenRedis(context.Background(), c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	c.reg = reg
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s, err := reg.Servers(context.Background())
		return err == nil && len(s) == 1
	}, "the server's heartbeat")
	return c
}

// channel creates a channel with the keys CLI, as an operator does.
func (c *smallCluster) channel(t *testing.T, name string) channelKeys {
	t.Helper()
	k := keysJSON(t, "create", name, "--json", "--redis-url", c.redisURL)
	return channelKeys{ChannelID: k.ChannelID, StreamKey: k.StreamKey, PlaybackID: k.PlaybackID}
}

// publish starts ffmpeg publishing a test pattern for seconds to addr,
// ending its input normally then.
func (c *smallCluster) publish(t *testing.T, addr, key string, seconds float64) *publisher {
	t.Helper()
	return (&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: addr}}}).publish(key, seconds)
}

// checkNoSecrets fails the test if a role's log holds a stream key.
func (c *smallCluster) checkNoSecrets(t *testing.T, keys ...channelKeys) {
	t.Helper()
	for _, r := range []*role{c.server, c.origin, c.proxy} {
		if r == nil {
			continue
		}
		for _, k := range keys {
			if strings.Contains(r.logs.String(), k.StreamKey) {
				t.Errorf("%s's log holds the stream key of %s", r.name, k.PlaybackID)
			}
		}
	}
}

// metric reads one sample of a role's /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	code, m := httpGet(url + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d", url, code)
	}
	for _, line := range strings.Split(m, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("%s/metrics has no %s", url, name)
	return 0
}

// viewer plays a stream through the origin as a player does: its
// rendition playlist about every 250 ms, each segment once as it appears,
// the master now and then. It counts every request and keeps every
// failure: a transport error or any answer but 200.
type viewer struct {
	base string // http://ORIGIN/hls/PLAYBACK_ID/
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	requests int
	failures []string
	failed   chan struct{} // closed at the first failure
	newest   int64         // the media sequence number of the newest segment listed
	segments int           // segments fetched
	slowest  time.Duration // the longest answer
}

func watch(originURL, pid string) *viewer {
	v := &viewer{base: originURL + "/hls/" + pid + "/", stop: make(chan struct{}), done: make(chan struct{}), failed: make(chan struct{}), newest: -1}
	go v.run()
	return v
}

func (v *viewer) run() {
	defer close(v.done)
	seen := map[string]bool{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		code, body := v.get("360p/index.m3u8")
		if code == http.StatusOK {
			segs := segments([]byte(body))
			v.mu.Lock()
			v.newest = mediaSequence([]byte(body)) + int64(len(segs)) - 1
			v.mu.Unlock()
			for _, s := range segs {
				if !seen[s] {
					seen[s] = true
					if code, _ := v.get("360p/" + s + ".ts"); code == http.StatusOK {
						v.mu.Lock()
						v.segments++
						v.mu.Unlock()
					}
				}
			}
		}
		if i%8 == 0 {
			v.get("live.m3u8")
		}
		select {
		case <-v.stop:
			return
		case <-tick.C:
		}
	}
}

func (v *viewer) get(name string) (int, string) {
	start := time.Now()
	code, body := httpGet(v.base + name)
	took := time.Since(start)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	v.slowest = max(v.slowest, took)
	if code != http.StatusOK {
		if len(v.failures) == 0 {
			close(v.failed)
		}
		v.failures = append(v.failures, name+": "+strconv.Itoa(code)+" at "+start.Format("15:04:05.000")+" after "+took.Round(time.Millisecond).String())
	}
	return code, body
}

// state returns what the viewer has seen so far.
func (v *viewer) state() (requests int, failures []string, newest int64, segments int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests, append([]string(nil), v.failures...), v.newest, v.segments
}

func (v *viewer) close() {
	close(v.stop)
	<-v.done
}

// TestClusterRedisOutage is issue 12's outage: Redis killed for 6 s, longer
// than the route TTL (2 s) and every cache TTL of the origin (the master's
// 5 s at most), under a live stream watched through the origin. No viewer
// request fails and the media sequence keeps advancing (a new segment
// every 2 s), on the origin's
// stale route; Redis started again on the same port has the stream's
// route and the server's heartbeat again within seconds, and the origin's
// route is confirmed.
func TestClusterRedisOutage(t *testing.T) {
	const outage = 6 * time.Second
	c := startSmallCluster(t, clusterOptions{origin: true, routeTTL: 2 * time.Second, grace: 10 * time.Second})
	k := c.channel(t, "outage")
	c.publish(t, c.rtmp, k.StreamKey, 60)
	ctx := context.Background()
	v := watch(c.originURL, k.PlaybackID)
	defer v.close()
	testenv.WaitFor(t, 30*time.Second, func() bool {
		_, _, _, n := v.state()
		return n >= 1
	}, "the viewer to play a segment through the origin")
	before, failures, seqAtKill, segsAtKill := v.state()
	failuresBefore := len(failures)

	killed := time.Now()
	c.redis.Kill()
	select {
	case <-time.After(outage): // the outage under test
	case <-c.server.exited:
		t.Fatal("the server exited without Redis")
	case <-c.origin.exited:
		t.Fatal("the origin exited without Redis")
	}
	requests, failures, seq, segs := v.state()
	failures = failures[failuresBefore:]
	if len(failures) > 0 {
		t.Errorf("%d of %d viewer requests failed during the %v outage: %v", len(failures), requests-before, outage, failures)
	}
	if seq < seqAtKill+2 || segs < segsAtKill+2 {
		t.Errorf("newest segment %d after the outage, %d at its start, %d segments fetched: the stream did not advance through the origin",
			seq, seqAtKill, segs-segsAtKill)
	}
	if n := metric(t, c.originURL, "livestream_origin_stale_route_uses_total"); n == 0 {
		t.Error("the origin counted no fetch on a stale route: the outage did not outlast its route cache")
	}
	v.mu.Lock()
	slowest := v.slowest
	v.mu.Unlock()
	t.Logf("outage of %v: %d viewer requests, %d failed, the slowest answered in %v; newest segment %d → %d, %d segments fetched",
		time.Since(killed).Round(time.Millisecond), requests-before, len(failures), slowest.Round(time.Millisecond), seqAtKill, seq, segs-segsAtKill)

	c.redis.Start()
	restarted := time.Now()
	testenv.WaitFor(t, 5*time.Second, func() bool {
		r, err := c.reg.Route(ctx, k.PlaybackID)
		return err == nil && r.Server == "server-a" && !r.Ended
	}, "the stream's route in Redis again")
	routed := time.Since(restarted)
	testenv.WaitFor(t, 5*time.Second, func() bool {
		s, err := c.reg.Servers(ctx)
		return err == nil && len(s) == 1
	}, "the server's heartbeat in Redis again")
	beat := time.Since(restarted)
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return metric(t, c.originURL, "livestream_origin_stale_routes") == 0
	}, "the origin's route confirmed by Redis")
	t.Logf("Redis back: route set again after %v, heartbeat after %v, origin route confirmed after %v",
		routed.Round(time.Millisecond), beat.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	if routed > 3*time.Second {
		t.Errorf("the route came back %v after Redis, want within about a second", routed)
	}
	requests, failures, _, _ = v.state()
	if failures = failures[failuresBefore:]; len(failures) > 0 {
		t.Errorf("%d of %d viewer requests failed from the outage to now: %v", len(failures), requests-before, failures)
	}
	for _, msg := range []string{"live route set again", "heartbeat sent again"} {
		if !strings.Contains(c.server.logs.String(), msg) {
			t.Errorf("the server did not log %q", msg)
		}
	}
	if !strings.Contains(c.origin.logs.String(), "registry unreachable: streams already routed keep their last known server") {
		t.Error("the origin did not log that it used its stale routes")
	}
	c.checkNoSecrets(t, k)
}

// TestClusterPublishWithoutRedis: with Redis down, a channel that
// published through the proxy before publishes again (the proxy's last
// server list, the server's cache of keys) and is transcoded; a key this
// server never authenticated is refused, saying why; nothing logs a key.
func TestClusterPublishWithoutRedis(t *testing.T) {
	c := startSmallCluster(t, clusterOptions{proxy: true, routeTTL: 2 * time.Second, grace: 10 * time.Second})
	known, stranger := c.channel(t, "known"), c.channel(t, "stranger")
	accepted := func() int { return strings.Count(c.server.logs.String(), `"msg":"publish accepted"`) }
	if err := c.publish(t, c.proxyRTMP, known.StreamKey, 1).wait(t, 30*time.Second); err != nil || accepted() != 1 {
		t.Fatalf("publish with Redis up: %v; %d publishes accepted", err, accepted())
	}

	c.redis.Kill()
	start := time.Now()
	p := c.publish(t, c.proxyRTMP, known.StreamKey, 4)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		code, body := httpGet("http://" + c.internal + "/hls/" + known.PlaybackID + "/360p/index.m3u8")
		return code == http.StatusOK && len(segments([]byte(body))) > 0 && !strings.Contains(body, "#EXT-X-ENDLIST")
	}, "the second publish transcoded, with Redis down")
	t.Logf("with Redis down, the known channel's first segment was listed %v after ffmpeg started", time.Since(start).Round(time.Millisecond))
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Errorf("publish of a known channel with Redis down: %v\n%s", err, p.stderr.String())
	}
	if accepted() != 2 || !strings.Contains(c.server.logs.String(), "stream key accepted on this server's word: the registry is unreachable") {
		t.Errorf("the server accepted %d publishes, want 2, the second on its cache of keys", accepted())
	}
	if !strings.Contains(c.proxy.logs.String(), "server list not read: publishes go to the last known servers") {
		t.Error("the proxy did not say it placed the publish on its last known servers")
	}

	start = time.Now()
	err := c.publish(t, c.proxyRTMP, stranger.StreamKey, 2).wait(t, 30*time.Second)
	t.Logf("with Redis down, ffmpeg gave up on the unknown key after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() == 0 {
		t.Errorf("publish of a key the server never authenticated, with Redis down: %v; want ffmpeg to fail", err)
	}
	const why = "registry unreachable, and this server has not authenticated the key within 10m0s"
	if !strings.Contains(c.server.logs.String(), why) {
		t.Errorf("the server's log does not say %q:\n%s", why, c.server.logs.String())
	}
	if accepted() != 2 {
		t.Errorf("%d publishes accepted, want 2", accepted())
	}
	c.checkNoSecrets(t, known, stranger)
}

// TestClusterEndReachesOriginViewers: a publisher that ends cleanly
// leaves its viewers behind the origin the final playlist with
// EXT-X-ENDLIST (the route stays, marked ended), as a single server's do;
// a new publish of the channel during the grace takes the route at once
// and the origin serves its live playlist within a second or two; after
// its end and the grace, the origin answers 404.
func TestClusterEndReachesOriginViewers(t *testing.T) {
	const grace = 3 * time.Second
	c := startSmallCluster(t, clusterOptions{origin: true, routeTTL: 2 * time.Second, grace: grace})
	k := c.channel(t, "ends")
	ctx := context.Background()
	playlist := c.originURL + "/hls/" + k.PlaybackID + "/360p/index.m3u8"

	// ended waits for the publisher's clean end, then for the origin to
	// serve the ended playlist, failing on any answer but 200 meanwhile,
	// and returns when it first did.
	ended := func(p *publisher, what string) time.Time {
		t.Helper()
		if err := p.wait(t, 30*time.Second); err != nil {
			t.Fatalf("%s: ffmpeg: %v\n%s", what, err, p.stderr.String())
		}
		var at time.Time
		testenv.WaitFor(t, 10*time.Second, func() bool {
			code, body := httpGet(playlist)
			if code != http.StatusOK {
				t.Fatalf("%s: the origin answered %d before the ended playlist", what, code)
			}
			at = time.Now()
			return strings.Contains(body, "#EXT-X-ENDLIST")
		}, what+": the ended playlist through the origin")
		if r, err := c.reg.Route(ctx, k.PlaybackID); err != nil || !r.Ended {
			t.Errorf("%s: route in Redis = %+v, %v; want it kept, ended", what, r, err)
		}
		if code, _ := httpGet(c.originURL + "/hls/" + k.PlaybackID + "/live.m3u8"); code != http.StatusOK {
			t.Errorf("%s: master through the origin: %d", what, code)
		}
		return at
	}
	playing := func(what string) {
		t.Helper()
		testenv.WaitFor(t, 30*time.Second, func() bool {
			code, body := httpGet(playlist)
			return code == http.StatusOK && len(segments([]byte(body))) > 0 && !strings.Contains(body, "#EXT-X-ENDLIST")
		}, what)
	}

	p := c.publish(t, c.rtmp, k.StreamKey, 3)
	playing("the first publish live through the origin")
	ended(p, "first publish")

	// Published again within the grace: the origin leaves the ended
	// playlist for the new live one within its caches' TTLs.
	p = c.publish(t, c.rtmp, k.StreamKey, 3)
	testenv.WaitFor(t, 30*time.Second, func() bool {
		r, err := c.reg.Route(ctx, k.PlaybackID)
		return err == nil && !r.Ended
	}, "the new publish's live route")
	routed := time.Now()
	playing("the second publish live through the origin")
	if d := time.Since(routed); d > 2*time.Second {
		t.Errorf("the origin served the ended playlist %v after the new stream's route, want within 2 s", d)
	}

	endSeen := ended(p, "second publish")
	testenv.WaitFor(t, grace+5*time.Second, func() bool {
		code, body := httpGet(playlist)
		if code == http.StatusOK && !strings.Contains(body, "#EXT-X-ENDLIST") {
			t.Fatalf("the origin served a live playlist after the end:\n%s", body)
		}
		return code == http.StatusNotFound
	}, "404 through the origin after the grace")
	if d := time.Since(endSeen); d < grace-time.Second {
		t.Errorf("404 %v after the ended playlist was served, before the %v grace", d, grace)
	}
	if _, err := c.reg.Route(ctx, k.PlaybackID); !errors.Is(err, registry.ErrNoRoute) {
		t.Errorf("route after the grace: %v, want ErrNoRoute", err)
	}
	c.checkNoSecrets(t, k)
}
