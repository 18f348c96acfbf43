package main

import (
	"context"
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
	// proxyProtocol starts the server and the proxy with --proxy-protocol;
	// proxyArgs are the proxy's further flags.
	proxyProtocol bool
	proxyArgs     []string
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
	var pp []string
	if o.proxyProtocol {
		pp = []string{"--proxy-protocol"}
	}
	c.server = startRole(t, bin, c.redisURL, "server", c.internal, append([]string{"server", "--config", config, "--rtmp-addr", c.rtmp,
		"--internal-http-addr", c.internal, "--advertise-addr", c.internal, "--server-id", "server-a",
		"--route-ttl", o.routeTTL.String(), "--grace", o.grace.String(), "--data-dir", filepath.Join(dir, "server"),
		"--record=false", "--log-format", "json"}, pp...)...)
	if o.origin {
		addr := testenv.FreeAddr(t)
		c.origin = startRole(t, bin, c.redisURL, "origin", addr, "origin", "--http-addr", addr, "--record=false", "--log-format", "json")
		c.originURL = "http://" + addr
	}
	if o.proxy {
		c.proxyRTMP = testenv.FreeAddr(t)
		health := testenv.FreeAddr(t)
		args := append([]string{"proxy", "--rtmp-addr", c.proxyRTMP, "--health-addr", health, "--log-format", "json"}, pp...)
		c.proxy = startRole(t, bin, c.redisURL, "proxy", health, append(args, o.proxyArgs...)...)
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
	newest   int64         // the media sequence number of the newest segment listed
	segments int           // segments fetched
	slowest  time.Duration // the longest answer
}

func watch(originURL, pid string) *viewer {
	v := &viewer{base: originURL + "/hls/" + pid + "/", stop: make(chan struct{}), done: make(chan struct{}), newest: -1}
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
					if code, _ := v.get("360p/" + s + segExt([]byte(body))); code == http.StatusOK {
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
