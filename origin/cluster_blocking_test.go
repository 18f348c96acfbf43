package origin

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// llUpstream stands for a livestream server of a low-latency stream: a
// local Handler over the hand-driven stream, on 127.0.0.1, counting the
// requests per path and query.
type llUpstream struct {
	srv *httptest.Server

	mu    sync.Mutex
	count map[string]int
}

func newLLUpstream(t *testing.T, s *llStream, opts Options) *llUpstream {
	t.Helper()
	table := newEdgeTable()
	table.setEdge(testPID, s.store, s.edge)
	opts.Logger = testenv.Logger(t)
	local := NewLocal(table, opts)
	u := &llUpstream{count: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.count[r.URL.RequestURI()]++
		u.mu.Unlock()
		local.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close) // tests close it first, before their goroutine check
	return u
}

func (u *llUpstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// requests is how many requests for target (path and query) came.
func (u *llUpstream) requests(target string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.count[target]
}

func (u *llUpstream) targets() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := make(map[string]int, len(u.count))
	for k, v := range u.count {
		m[k] = v
	}
	return m
}

// newLLCluster is a Cluster on 127.0.0.1 routing testPID to u.
func newLLCluster(t *testing.T, u *llUpstream) *clusterEnv {
	e := newClusterEnv(t, nil, ClusterOptions{})
	e.router.set(testPID, u.addr())
	return e
}

// TestClusterBlockingCoalesced: for several parts in a row, across a
// segment boundary, viewers of three renditions block on the next part's
// playlist, each asking in a form of its own (order, leading zeros, a
// cache buster), and on the preload hint's part; each rendition's
// playlist and part cost the upstream exactly one request, with the
// directives in canonical form, and every viewer gets them.
func TestClusterBlockingCoalesced(t *testing.T) {
	const viewers, rounds = 30, 6
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	u := newLLUpstream(t, s, Options{})
	defer u.srv.Close()
	e := newLLCluster(t, u)
	defer e.close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * viewers * len(llRenditions)}}
	defer client.CloseIdleConnections()
	get := func(url string) (int, []byte, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	forms := []string{"_HLS_msn=%d&_HLS_part=%d", "_HLS_part=%[2]d&_HLS_msn=%[1]d", "_HLS_msn=0%d&_HLS_part=00%d", "cb=%[2]d&_HLS_msn=%[1]d&_HLS_part=%[2]d&t=9"}

	for round := range rounds {
		coalesced := e.c.Stats().Coalesced
		type result struct {
			rendition   string
			part        bool
			status      int
			body        []byte
			err         error
			msn         int64
			partIndex   int
			wantPartRaw string
		}
		results := make(chan result, 2*viewers*len(llRenditions))
		var wg sync.WaitGroup
		for _, r := range llRenditions {
			n := next(s.position(r))
			for v := range viewers {
				q := fmt.Sprintf(forms[v%len(forms)], n.MSN, n.Part)
				wg.Go(func() {
					status, body, err := get(e.url(r + "/" + playlistName + "?" + q))
					results <- result{rendition: r, status: status, body: body, err: err, msn: n.MSN, partIndex: n.Part}
				})
				wg.Go(func() {
					status, body, err := get(e.url(partName(r, n.MSN, n.Part)))
					results <- result{rendition: r, part: true, status: status, body: body, err: err, wantPartRaw: partName(r, n.MSN, n.Part)}
				})
			}
		}
		want := coalesced + int64(2*(viewers-1)*len(llRenditions))
		testenv.WaitFor(t, 10*time.Second, func() bool { return e.c.Stats().Coalesced == want },
			fmt.Sprintf("round %d: %d viewers of each of %d renditions waiting on 2 fetches each", round, viewers, len(llRenditions)))
		s.advanceAll()
		wg.Wait()
		close(results)
		for res := range results {
			switch {
			case res.err != nil || res.status != 200:
				t.Fatalf("round %d, %s: status %d, %v: %s", round, res.rendition, res.status, res.err, res.body)
			case res.part && string(res.body) != res.wantPartRaw:
				t.Fatalf("round %d: part %q, want %q", round, res.body, res.wantPartRaw)
			case !res.part && !lists(res.body, res.msn, res.partIndex):
				t.Fatalf("round %d, %s: the playlist does not list %d.%d:\n%s", round, res.rendition, res.msn, res.partIndex, res.body)
			}
		}
		for _, r := range llRenditions {
			p := s.position(r)
			pl := fmt.Sprintf("/hls/%s/%s/%s?_HLS_msn=%d&_HLS_part=%d", testPID, r, playlistName, p.MSN, p.Part)
			part := "/hls/" + testPID + "/" + partName(r, p.MSN, p.Part)
			if n, m := u.requests(pl), u.requests(part); n != 1 || m != 1 {
				t.Errorf("round %d, %s: %d upstream requests for the playlist, %d for the part; want 1 and 1", round, r, n, m)
			}
		}
	}
	for target, n := range u.targets() {
		path, query, _ := strings.Cut(target, "?")
		q, err := parseBlockingQuery(query)
		if err != nil || q.encode() != query || n != 1 || !strings.HasPrefix(path, "/hls/"+testPID+"/") {
			t.Errorf("upstream asked %d times for %q", n, target)
		}
	}

	// A latecomer's blocking request is a cache hit, cacheable downstream.
	p := s.position("720p")
	resp, body := do(t, "GET", e.url(fmt.Sprintf("720p/%s?_HLS_part=%d&_HLS_msn=%d", playlistName, p.Part, p.MSN)), nil)
	checkAnswer(t, "latecomer", answer{resp, body}, 200, llTargetMaxAge)
	if n := u.requests(fmt.Sprintf("/hls/%s/720p/%s?_HLS_msn=%d&_HLS_part=%d", testPID, playlistName, p.MSN, p.Part)); n != 1 {
		t.Errorf("the latecomer cost %d more upstream requests", n-1)
	}
	if st := e.c.Stats(); st.BlockingFetches != int64(2*rounds*len(llRenditions)) {
		t.Errorf("stats: %+v; want %d blocking fetches", st, 2*rounds*len(llRenditions))
	}
}

// TestClusterBlockingErrors: a malformed directive is 400 without asking
// the upstream; a request too far ahead gets the upstream's 400; one the
// upstream times out on gets 503; an end answers the waiters.
func TestClusterBlockingErrors(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	u := newLLUpstream(t, s, Options{})
	defer u.srv.Close()
	e := newLLCluster(t, u)
	defer e.close()

	for _, c := range blockingQueryCases {
		if !c.ok {
			resp, body := do(t, "GET", e.url("720p/"+playlistName+"?"+c.raw), nil)
			checkAnswer(t, c.name, answer{resp, body}, 400, "no-cache")
		}
	}
	if n := len(u.targets()); n != 0 {
		t.Fatalf("malformed directives reached the upstream: %v", u.targets())
	}
	far := fmt.Sprintf("_HLS_msn=%d", llFirstSeq+2)
	resp, body := do(t, "GET", e.url("720p/"+playlistName+"?"+far), nil)
	checkAnswer(t, "too far", answer{resp, body}, 400, "no-cache")
	if n := u.requests("/hls/" + testPID + "/720p/" + playlistName + "?" + far); n != 1 {
		t.Errorf("too far: %d upstream requests, want 1", n)
	}

	waiting := getAsync(t, e.url(fmt.Sprintf("360p/%s?_HLS_msn=%d&_HLS_part=1", playlistName, llFirstSeq)))
	testenv.WaitFor(t, 10*time.Second, func() bool { return e.c.Stats().BlockingFetches == 2 }, "the blocking request upstream")
	s.end()
	a := <-waiting
	checkAnswer(t, "ended", a, 200, llTargetMaxAge)
	if !bytes.Contains(a.body, []byte("#EXT-X-ENDLIST")) {
		t.Errorf("ended: no ENDLIST:\n%s", a.body)
	}

	stalled := newLLStream(t)
	su := newLLUpstream(t, stalled, Options{blockWait: 50 * time.Millisecond})
	defer su.srv.Close()
	se := newLLCluster(t, su)
	defer se.close()
	resp, body = do(t, "GET", se.url(fmt.Sprintf("720p/%s?_HLS_msn=%d&_HLS_part=1", playlistName, llFirstSeq)), nil)
	checkAnswer(t, "stalled playlist", answer{resp, body}, 503, "no-cache")
	resp, body = do(t, "GET", se.url(partName("720p", llFirstSeq, 1)), nil)
	checkAnswer(t, "stalled part", answer{resp, body}, 503, "no-cache")
	if st := se.c.Stats(); st.FetchErrors != 0 {
		t.Errorf("timeouts of blocking requests counted as fetch errors: %+v", st)
	}
}
