package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

// upstream stands for a livestream server's internal HLS listener: a local
// Handler over a store holding the fixture, on a real HTTP server on
// 127.0.0.1, counting the requests per path. A path can be held: its
// requests wait until released, so that a test can gather viewers on one
// fetch.
type upstream struct {
	srv     *httptest.Server
	store   *hlsmux.MemoryStore
	streams *streamTable

	mu    sync.Mutex
	count map[string]int
	paths []string
	held  map[string]chan struct{}
}

func newUpstream(t *testing.T, f *hlsFixture, segments int, ended bool) *upstream {
	t.Helper()
	u := &upstream{store: hlsmux.NewMemoryStore(), streams: newStreamTable(), count: map[string]int{}, held: map[string]chan struct{}{}}
	f.publish(t, u.store, segments, ended)
	u.streams.set(testPID, u.store)
	local := NewLocal(u.streams, Options{Logger: testenv.Logger(t)})
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.count[r.URL.Path]++
		u.paths = append(u.paths, r.URL.Path)
		hold := u.held[r.URL.Path]
		u.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		local.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// addr is the upstream's "host:port", as a route names it.
func (u *upstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

func (u *upstream) requests(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.count[path]
}

func (u *upstream) allPaths() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.paths...)
}

// hold makes requests for path wait until release is called.
func (u *upstream) hold(path string) (release func()) {
	ch := make(chan struct{})
	u.mu.Lock()
	u.held[path] = ch
	u.mu.Unlock()
	return func() { close(ch) }
}

// testRouter routes playback ids to addresses that tests change, and
// records every id it is asked for.
type testRouter struct {
	mu      sync.Mutex
	routes  map[string]string
	err     error
	hang    bool // lookups wait for their ctx to end, as a Redis that does not answer
	lookups []string
}

func newTestRouter() *testRouter { return &testRouter{routes: map[string]string{}} }

func (r *testRouter) Route(ctx context.Context, pid string) (string, error) {
	r.mu.Lock()
	r.lookups = append(r.lookups, pid)
	if r.hang {
		r.mu.Unlock()
		<-ctx.Done()
		return "", ctx.Err()
	}
	defer r.mu.Unlock()
	if r.err != nil {
		return "", r.err
	}
	if addr, ok := r.routes[pid]; ok {
		return addr, nil
	}
	return "", ErrNoRoute
}

func (r *testRouter) set(pid, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if addr == "" {
		delete(r.routes, pid)
	} else {
		r.routes[pid] = addr
	}
}

func (r *testRouter) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *testRouter) hangs(hang bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hang = hang
}

func (r *testRouter) asked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lookups...)
}

// clusterEnv is a Cluster on a real HTTP server in front of one upstream.
type clusterEnv struct {
	up     *upstream
	router *testRouter
	c      *Cluster
	srv    *httptest.Server
}

func newClusterEnv(t *testing.T, up *upstream, opts ClusterOptions) *clusterEnv {
	t.Helper()
	e := &clusterEnv{up: up, router: newTestRouter()}
	if up != nil {
		e.router.set(testPID, up.addr())
	}
	if opts.Logger == nil {
		opts.Logger = testenv.Logger(t)
	}
	e.c = NewCluster(e.router, opts)
	e.srv = httptest.NewServer(e.c)
	t.Cleanup(e.close)
	return e
}

// close stops the cluster and both servers; tests defer it before their
// goroutine check runs.
func (e *clusterEnv) close() {
	e.srv.Close()
	e.c.Close()
	if e.up != nil {
		e.up.srv.Close()
	}
}

func (e *clusterEnv) url(name string) string { return e.srv.URL + "/hls/" + testPID + "/" + name }

func TestClusterRoutes(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()

	for _, c := range routeCases {
		t.Run(c.name, func(t *testing.T) { checkRoute(t, e.srv.URL, up.store, c) })
	}
	// Twice: the second answers come from the cache, the same.
	for _, c := range routeCases {
		t.Run("cached "+c.name, func(t *testing.T) { checkRoute(t, e.srv.URL, up.store, c) })
	}
	for _, pid := range e.router.asked() {
		if !pidGrammar.MatchString(pid) {
			t.Errorf("the router was asked for %q", pid)
		}
	}
	for _, p := range up.allPaths() {
		name, ok := strings.CutPrefix(p, "/hls/"+testPID+"/")
		if !ok || !nameGrammar.MatchString(name) {
			t.Errorf("the upstream was asked for %q", p)
		}
	}
	if s := e.c.Stats(); s.Hits == 0 || s.RouteLookups != 2 {
		t.Errorf("stats after two rounds: %+v; want hits, and one route lookup per playback id", s)
	}
}

// TestClusterCoalescing gathers 200 viewers on one segment while its
// fetch is held: the upstream sees one request, and every viewer the same
// bytes; a second round costs no fetch.
func TestClusterCoalescing(t *testing.T) {
	const viewers = 200
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	name := "180p/" + seg3 + ".ts"
	path := "/hls/" + testPID + "/" + name
	want, _ := up.store.Get(name)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: viewers}}
	defer client.CloseIdleConnections()
	round := func(held bool) {
		t.Helper()
		var release func()
		if held {
			release = up.hold(path)
		}
		bodies := make([][]byte, viewers)
		errs := make([]error, viewers)
		var wg sync.WaitGroup
		for i := range viewers {
			wg.Go(func() {
				resp, err := client.Get(e.srv.URL + path)
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				bodies[i], errs[i] = io.ReadAll(resp.Body)
				if errs[i] == nil && resp.StatusCode != http.StatusOK {
					errs[i] = fmt.Errorf("status %d", resp.StatusCode)
				}
			})
		}
		if held {
			testenv.WaitFor(t, 10*time.Second, func() bool {
				return up.requests(path) == 1 && e.c.Stats().Coalesced == viewers-1
			}, "one fetch and 199 viewers waiting for it")
			release()
		}
		wg.Wait()
		for i := range viewers {
			if errs[i] != nil || !bytes.Equal(bodies[i], want) {
				t.Fatalf("viewer %d: %v, %d bytes, same as the segment: %v", i, errs[i], len(bodies[i]), bytes.Equal(bodies[i], want))
			}
		}
	}

	round(true)
	if n := up.requests(path); n != 1 {
		t.Errorf("%d viewers at once made %d upstream requests, want 1", viewers, n)
	}
	s := e.c.Stats()
	if s.SegmentFetches != 1 || s.Coalesced != viewers-1 || s.Hits != 0 || s.RouteLookups != 1 {
		t.Errorf("stats after the first round: %+v", s)
	}
	round(false)
	if n := up.requests(path); n != 1 {
		t.Errorf("a second round made %d more upstream requests, want 0", n-1)
	}
	if s := e.c.Stats(); s.Hits != viewers || s.Fetches != 1 {
		t.Errorf("stats after the second round: %+v; want %d hits, 1 fetch", s, viewers)
	}
}

// TestClusterPlaylistTTL: a media playlist is served from the cache for
// half its target duration, then fetched again, and viewers see the new
// segment.
func TestClusterPlaylistTTL(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	path := "/hls/" + testPID + "/180p/index.m3u8"
	ttl := playlistTTL(mustGet(t, up.store, "180p/index.m3u8"))
	if ttl != time.Second/2 {
		t.Fatalf("the fixture's playlist (target 1 s) is cached %v, want 500ms", ttl)
	}

	start := time.Now()
	resp, first := do(t, "GET", e.srv.URL+path, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("playlist: status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	do(t, "GET", e.srv.URL+path, nil)
	if time.Since(start) < ttl && up.requests(path) != 1 {
		t.Errorf("two requests within the TTL made %d upstream requests, want 1", up.requests(path))
	}

	f.publish(t, up.store, 5, false)
	var body []byte
	testenv.WaitFor(t, 5*time.Second, func() bool {
		_, body = do(t, "GET", e.srv.URL+path, nil)
		return bytes.Contains(body, []byte(seg4+".ts"))
	}, "the cluster's playlist to list the fifth segment")
	if n := up.requests(path); n != 2 {
		t.Errorf("the playlist was fetched %d times, want 2: once, and once after its TTL", n)
	}
	if bytes.Equal(first, body) || !bytes.Equal(body, mustGet(t, up.store, "180p/index.m3u8")) {
		t.Errorf("the refetched playlist differs from the upstream's:\n%s", body)
	}
}

func mustGet(t *testing.T, s hlsmux.Store, name string) []byte {
	t.Helper()
	data, err := s.Get(name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return data
}

// TestClusterEviction: with room for two segments, the least recently used
// one makes room for a third; a file larger than the cache is served but
// not kept.
func TestClusterEviction(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	r := f.renditions[0]
	names := make([]string, 3)
	costs := make([]int64, 3)
	for i := range names {
		names[i] = segmentName(r, i)
		costs[i] = entryCost(testPID+"/"+names[i], len(r.segments[i].data))
	}
	limit := costs[0] + costs[1] + costs[2] - 1
	e := newClusterEnv(t, up, ClusterOptions{CacheBytes: limit})
	defer e.close()

	get := func(i int) {
		t.Helper()
		resp, body := do(t, "GET", e.url(names[i]), nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, r.segments[i].data) {
			t.Fatalf("GET %s: status %d, %d bytes", names[i], resp.StatusCode, len(body))
		}
		if s := e.c.Stats(); s.CacheBytes > limit {
			t.Fatalf("the cache holds %d bytes, more than its %d", s.CacheBytes, limit)
		}
	}
	fetches := func() [3]int {
		var n [3]int
		for i := range n {
			n[i] = up.requests("/hls/" + testPID + "/" + names[i])
		}
		return n
	}
	get(0)
	get(1)
	get(0) // 0 is now the most recently used
	get(2) // evicts 1
	get(0) // still cached
	if n, s := fetches(), e.c.Stats(); n != [3]int{1, 1, 1} || s.Evictions != 1 || s.CacheEntries != 2 {
		t.Errorf("fetches %v (want [1 1 1]), stats %+v (want 1 eviction, 2 entries)", n, s)
	}
	get(1) // fetched again, evicts 2
	get(0)
	if n, s := fetches(), e.c.Stats(); n != [3]int{1, 2, 1} || s.Evictions != 2 {
		t.Errorf("fetches %v (want [1 2 1]), stats %+v (want 2 evictions)", n, s)
	}

	// A cache smaller than a segment serves it every time, from upstream.
	tiny := newClusterEnv(t, up, ClusterOptions{CacheBytes: costs[0] - 1})
	defer tiny.close()
	for range 2 {
		if resp, body := do(t, "GET", tiny.url(names[0]), nil); resp.StatusCode != 200 || !bytes.Equal(body, r.segments[0].data) {
			t.Fatalf("through a tiny cache: status %d, %d bytes", resp.StatusCode, len(body))
		}
	}
	if s := tiny.c.Stats(); s.SegmentFetches != 2 || s.CacheEntries != 0 || s.CacheBytes != 0 {
		t.Errorf("a segment larger than the cache: stats %+v, want 2 fetches and nothing kept", s)
	}
}

// TestClusterUpstreamDown: a server that refuses or hangs gets its viewers
// a 503 within the timeouts, and its route is forgotten, so that once the
// stream moves, the next request finds it.
func TestClusterUpstreamDown(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	const fetchTimeout = 300 * time.Millisecond
	e := newClusterEnv(t, up, ClusterOptions{FetchTimeout: fetchTimeout})
	defer e.close()

	up.streams.set(otherPID, up.store)

	// Each case has a stream of its own, whose route is not yet cached.
	for _, c := range []struct {
		name, pid string
		addr      func(testing.TB) string
		within    time.Duration
	}{
		{"refused", testPID, testenv.FreeAddr, time.Second},
		{"hangs", otherPID, testenv.SilentListener, fetchTimeout + time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := c.addr(t)
			e.router.set(c.pid, addr)
			u := e.srv.URL + "/hls/" + c.pid + "/" + masterName
			lookups := e.c.Stats().RouteLookups
			start := time.Now()
			resp, body := do(t, "GET", u, nil)
			if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || took > c.within {
				t.Errorf("status %d after %v, want 503 within %v", resp.StatusCode, took, c.within)
			}
			if resp.Header.Get("Cache-Control") != "no-cache" || bytes.Contains(body, []byte(addr)) {
				t.Errorf("503 with Cache-Control %q says %q", resp.Header.Get("Cache-Control"), body)
			}
			// The stream moved to a server that answers: found at once.
			e.router.set(c.pid, up.addr())
			if resp, body := do(t, "GET", u, nil); resp.StatusCode != 200 || !bytes.Equal(body, f.master()) {
				t.Errorf("once moved: status %d", resp.StatusCode)
			}
			if got := e.c.Stats().RouteLookups - lookups; got != 2 {
				t.Errorf("%d route lookups, want 2: the failed route was not forgotten", got)
			}
		})
	}
	if s := e.c.Stats(); s.FetchErrors != 2 {
		t.Errorf("stats %+v, want 2 fetch errors", s)
	}
}

// TestClusterNoRoute: a stream with no route is 404, briefly cached, and
// found within a second of its route appearing; a registry that fails is
// 503.
func TestClusterNoRoute(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	e.router.set(testPID, "")

	for _, name := range []string{masterName, "180p/index.m3u8", "180p/" + seg0 + ".ts"} {
		if resp, _ := do(t, "GET", e.url(name), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with no route: status %d, want 404", name, resp.StatusCode)
		}
	}
	if s := e.c.Stats(); s.Fetches != 0 || s.RouteLookups != 1 {
		t.Errorf("with no route: stats %+v, want no fetch and 1 route lookup", s)
	}

	e.router.set(testPID, up.addr())
	testenv.WaitFor(t, 3*time.Second, func() bool {
		resp, _ := do(t, "GET", e.url(masterName), nil)
		return resp.StatusCode == http.StatusOK
	}, "the master once the stream has a route")

	e.router.fail(errors.New("dial redis 127.0.0.1:6379: connection refused"))
	if resp, _ := do(t, "GET", e.srv.URL+"/hls/"+otherPID+"/live.m3u8", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with the registry failing: status %d, want 503", resp.StatusCode)
	}
}

// TestClusterStreamKeyNeverEchoed: a stream key pasted anywhere in a URL
// reaches no router, no server, no answer and no log.
func TestClusterStreamKeyNeverEchoed(t *testing.T) {
	f := loadFixture(t)
	up := newUpstream(t, f, 4, false)
	var logs testenv.LogBuffer
	e := newClusterEnv(t, up, ClusterOptions{Options: Options{Logger: logs.Logger()}})
	defer e.close()

	k := testStreamKey
	for _, p := range []string{
		"/hls/" + k + "/live.m3u8",
		"/hls/" + testPID + "/" + k + "/index.m3u8",
		"/hls/" + testPID + "/180p/" + k + ".ts",
		"/hls/" + testPID + "/" + k,
		"/hls/" + testPID + "/live.m3u8?key=" + k,
		"/hls/" + k + "/../" + testPID + "/live.m3u8",
		"/watch/" + k,
	} {
		for _, m := range []string{"GET", "HEAD"} {
			resp, body := do(t, m, e.srv.URL+p, http.Header{"X-Stream-Key": {k}})
			if bytes.Contains(body, []byte(k)) {
				t.Errorf("%s %s: the body repeats the key", m, p)
			}
			for name, vs := range resp.Header {
				if strings.Contains(strings.Join(vs, " "), k) {
					t.Errorf("%s %s: header %s repeats the key", m, p, name)
				}
			}
		}
	}
	for _, pid := range e.router.asked() {
		if strings.Contains(pid, k) {
			t.Errorf("the router was asked for %q", pid)
		}
	}
	for _, p := range up.allPaths() {
		if strings.Contains(p, k) {
			t.Errorf("the server was asked for %q", p)
		}
	}
	if strings.Contains(logs.String(), k) {
		t.Errorf("the log holds the stream key:\n%s", logs.String())
	}
}

// TestClusterPlays has ffprobe, a real player, read the whole ladder
// through the cluster origin; a second player costs no segment fetch.
func TestClusterPlays(t *testing.T) {
	f := loadFixture(t)
	up := newUpstream(t, f, fixtureSegments, true)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	master := e.url(masterName)

	res := testenv.Probe(t, master)
	var video, audio int
	for _, s := range res.Streams {
		switch {
		case s.CodecType == "video" && s.CodecName == "h264":
			video++
		case s.CodecType == "audio" && s.CodecName == "aac":
			audio++
		}
	}
	if res.Format.FormatName != "hls" || video != len(f.renditions) || audio == 0 {
		t.Fatalf("ffprobe through the cluster: format %q, %d H.264 and %d AAC streams: %+v", res.Format.FormatName, video, audio, res.Streams)
	}
	packets := testenv.ProbePackets(t, master, "v:0")
	if want := fixtureSegments * fixtureFPS; len(packets) != want {
		t.Errorf("ffprobe read %d video packets through the cluster, want %d", len(packets), want)
	}
	segs := e.c.Stats().SegmentFetches
	if segs == 0 || segs > int64(fixtureSegments*len(f.renditions)) {
		t.Errorf("%d segment fetches for %d segments", segs, fixtureSegments*len(f.renditions))
	}
	testenv.ProbePackets(t, master, "v:0")
	if s := e.c.Stats(); s.SegmentFetches != segs {
		t.Errorf("a second player made %d more segment fetches, want 0", s.SegmentFetches-segs)
	}
}

// BenchmarkClusterHotSegment measures a Cluster serving one cached 1 MiB
// segment to parallel keep-alive clients over loopback HTTP, in requests/s
// (compare with nginx serving the same file from disk).
func BenchmarkClusterHotSegment(b *testing.B) {
	seg := bytes.Repeat([]byte{0x47}, 1<<20)
	name := "720p/" + seg0 + ".ts"
	store := hlsmux.NewMemoryStore()
	if err := store.Put(name, seg); err != nil {
		b.Fatal(err)
	}
	streams := newStreamTable()
	streams.set(testPID, store)
	up := httptest.NewServer(NewLocal(streams, Options{}))
	defer up.Close()
	addr := strings.TrimPrefix(up.URL, "http://")
	c := NewCluster(RouterFunc(func(context.Context, string) (string, error) { return addr, nil }), ClusterOptions{})
	defer c.Close()
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/hls/" + testPID + "/" + name
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()

	b.SetParallelism(8) // 8 × GOMAXPROCS clients
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n != int64(len(seg)) {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if s := c.Stats(); s.Fetches != 1 {
		b.Errorf("%d upstream fetches, want 1", s.Fetches)
	}
}

// TestClusterViewerLeaves: the viewer whose request started a fetch goes
// away; the fetch goes on for the viewer waiting on it.
func TestClusterViewerLeaves(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	name := "90p/" + seg0 + ".ts"
	path := "/hls/" + testPID + "/" + name
	release := up.hold(path)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		first <- err
	}()
	testenv.WaitFor(t, 5*time.Second, func() bool { return up.requests(path) == 1 }, "the first viewer's fetch")
	second := make(chan []byte, 1)
	go func() {
		var body []byte
		if resp, err := http.Get(e.srv.URL + path); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		second <- body
	}()
	testenv.WaitFor(t, 5*time.Second, func() bool { return e.c.Stats().Coalesced == 1 }, "the second viewer to wait")
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the first viewer's request: %v, want it cancelled", err)
	}
	release()
	if body := <-second; !bytes.Equal(body, mustGet(t, up.store, name)) {
		t.Errorf("the second viewer got %d bytes, not the segment", len(body))
	}
	if n := up.requests(path); n != 1 {
		t.Errorf("%d upstream requests, want 1", n)
	}
}

// TestClusterClose: Close ends a fetch in flight (its viewer gets 503) and
// returns; afterwards only cached files are served.
func TestClusterClose(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	e := newClusterEnv(t, up, ClusterOptions{})
	defer e.close()
	if resp, _ := do(t, "GET", e.url(masterName), nil); resp.StatusCode != 200 {
		t.Fatalf("master: status %d", resp.StatusCode)
	}
	path := "/hls/" + testPID + "/180p/index.m3u8"
	release := up.hold(path)
	defer release()
	status := make(chan int, 1)
	go func() {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	testenv.WaitFor(t, 5*time.Second, func() bool { return up.requests(path) == 1 }, "the playlist's fetch")
	e.c.Close()
	if got := <-status; got != http.StatusServiceUnavailable {
		t.Errorf("a viewer waiting when the origin closed: status %d, want 503", got)
	}
	if resp, _ := do(t, "GET", e.url("90p/index.m3u8"), nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("uncached file after Close: status %d, want 503", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", e.url(masterName), nil); resp.StatusCode != 200 {
		t.Errorf("cached master after Close: status %d, want 200", resp.StatusCode)
	}
}

// FuzzClusterRoutes sends any method and path to a Cluster: it must not
// panic, must answer with CORS and a status of the handler's, and must ask
// its Router only for well-formed playback ids.
func FuzzClusterRoutes(f *testing.F) {
	for _, c := range routeCases {
		f.Add(c.method, c.path)
	}
	f.Add("GET", "/hls/"+testPID+"/180p/"+seg0+".ts?x=1#y")
	f.Add("GET", "/hls/"+testPID+"/%2e%2e/"+seg0+".ts")
	router := newTestRouter() // routes nothing: no network
	c := NewCluster(router, ClusterOptions{CacheBytes: 1 << 20})
	defer c.Close()

	f.Fuzz(func(t *testing.T, method, target string) {
		req, err := http.NewRequest(method, "http://origin.test"+target, nil)
		if err != nil || req.URL.Host != "origin.test" {
			t.Skip()
		}
		router.mu.Lock()
		router.lookups = router.lookups[:0]
		router.mu.Unlock()

		w := httptest.NewRecorder()
		c.ServeHTTP(w, req)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s %q: Access-Control-Allow-Origin %q", method, target, got)
		}
		switch w.Code {
		case 200, 204, 304, 404, 405:
		default:
			t.Errorf("%s %q: status %d", method, target, w.Code)
		}
		if w.Code == 200 && strings.HasPrefix(req.URL.Path, "/hls/") {
			t.Errorf("%s %q: 200 for a stream with no route", method, target)
		}
		for _, pid := range router.asked() {
			if !pidGrammar.MatchString(pid) {
				t.Errorf("%s %q: the router was asked for %q", method, target, pid)
			}
		}
	})
}
