package origin

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

// newLLServer serves testPID as the low-latency stream s, through a local
// Handler on 127.0.0.1.
func newLLServer(t *testing.T, s *llStream, opts Options) *httptest.Server {
	t.Helper()
	table := newEdgeTable()
	table.setEdge(testPID, s.store, s.edge)
	if opts.Logger == nil {
		opts.Logger = testenv.Logger(t)
	}
	srv := httptest.NewServer(NewLocal(table, opts))
	t.Cleanup(srv.Close) // tests close it first, before their goroutine check
	return srv
}

// answer is one response, as a goroutine's request got it.
type answer struct {
	resp *http.Response
	body []byte
}

// getAsync GETs url in a goroutine.
func getAsync(t *testing.T, url string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, body := do(t, "GET", url, nil)
		ch <- answer{resp, body}
	}()
	return ch
}

func playlistURL(base, rendition, query string) string {
	u := base + "/hls/" + testPID + "/" + rendition + "/" + playlistName
	if query != "" {
		u += "?" + query
	}
	return u
}

// lists reports whether a playlist lists part part of segment msn.
func lists(playlist []byte, msn int64, part int) bool {
	return bytes.Contains(playlist, fmt.Appendf(nil, "URI=\"%d.%d.m4s\"\n", msn, part)) ||
		bytes.Contains(playlist, fmt.Appendf(nil, "URI=\"%d.%d.m4s\",", msn, part))
}

func checkAnswer(t *testing.T, what string, a answer, status int, cacheControl string) {
	t.Helper()
	if a.resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, a.resp.StatusCode, status, a.body)
	}
	if got := a.resp.Header.Get("Cache-Control"); got != cacheControl {
		t.Errorf("%s: Cache-Control %q, want %q", what, got, cacheControl)
	}
}

// TestBlockingReload: a request for the next part waits until the edge
// lists it and is served then, cacheable; one for a part listed already
// is served at once; one for the whole segment waits for its last part.
func TestBlockingReload(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	srv := newLLServer(t, s, Options{})
	defer srv.Close()

	nextPart := getAsync(t, playlistURL(srv.URL, "720p", fmt.Sprintf("_HLS_msn=%d&_HLS_part=1", llFirstSeq)))
	wholeSegment := getAsync(t, playlistURL(srv.URL, "720p", fmt.Sprintf("_HLS_msn=%d", llFirstSeq)))
	s.advance("720p")
	a := <-nextPart
	checkAnswer(t, "next part", a, 200, llTargetMaxAge)
	if !lists(a.body, llFirstSeq, 1) || a.resp.Header.Get("Content-Type") != playlistKind.contentType {
		t.Fatalf("next part: %s, playlist:\n%s", a.resp.Header.Get("Content-Type"), a.body)
	}

	resp, body := do(t, "GET", playlistURL(srv.URL, "720p", fmt.Sprintf("_HLS_msn=%d&_HLS_part=0", llFirstSeq)), nil)
	checkAnswer(t, "a listed part", answer{resp, body}, 200, llTargetMaxAge)

	s.advance("720p") // part 2
	s.advance("720p") // part 3: the segment is complete
	a = <-wholeSegment
	checkAnswer(t, "whole segment", a, 200, llTargetMaxAge)
	if !bytes.Contains(a.body, fmt.Appendf(nil, "#EXTINF:2.000,\n%d.m4s\n", llFirstSeq)) {
		t.Fatalf("whole segment: the playlist does not list it:\n%s", a.body)
	}

	// The part past the last of a complete segment is the next
	// segment's first (RFC 8216bis §6.2.5.2).
	past := getAsync(t, playlistURL(srv.URL, "720p", fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", llFirstSeq, llPartsPerSegment)))
	a = <-past
	checkAnswer(t, "part past the last", a, 200, llTargetMaxAge)

	// Without directives: the playlist now, revalidated each time.
	resp, body = do(t, "GET", playlistURL(srv.URL, "720p", ""), nil)
	checkAnswer(t, "no directives", answer{resp, body}, 200, "no-cache")
}

// TestBlockingBadRequest: malformed directives and requests too far
// ahead are 400 at once, not cacheable.
func TestBlockingBadRequest(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	srv := newLLServer(t, s, Options{})
	defer srv.Close()
	for _, c := range blockingQueryCases {
		if c.ok {
			continue
		}
		resp, body := do(t, "GET", playlistURL(srv.URL, "720p", c.raw), nil)
		checkAnswer(t, c.name, answer{resp, body}, 400, "no-cache")
		if bytes.Contains(body, []byte(testStreamKey)) {
			t.Errorf("%s: the answer echoes the query: %s", c.name, body)
		}
	}
	// Segment llFirstSeq has part 0 listed: the last complete is the one
	// before, so llFirstSeq+1 is the furthest segment, part 3 the
	// furthest part.
	for _, q := range []string{
		fmt.Sprintf("_HLS_msn=%d", llFirstSeq+2),
		fmt.Sprintf("_HLS_msn=%d&_HLS_part=4", llFirstSeq),
		fmt.Sprintf("_HLS_msn=%d&_HLS_part=0&_HLS_skip=YES", llFirstSeq+2),
	} {
		resp, body := do(t, "GET", playlistURL(srv.URL, "720p", q), nil)
		checkAnswer(t, q, answer{resp, body}, 400, "no-cache")
	}
}

// TestBlockingTimeout: a request the edge does not answer within the
// deadline (three target durations; here shortened) gets 503, which
// caches must not keep; so does a part that never comes.
func TestBlockingTimeout(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	srv := newLLServer(t, s, Options{blockWait: 50 * time.Millisecond})
	defer srv.Close()
	resp, body := do(t, "GET", playlistURL(srv.URL, "720p", fmt.Sprintf("_HLS_msn=%d&_HLS_part=1", llFirstSeq)), nil)
	checkAnswer(t, "stalled playlist", answer{resp, body}, 503, "no-cache")
	resp, body = do(t, "GET", srv.URL+"/hls/"+testPID+"/"+partName("720p", llFirstSeq, 1), nil)
	checkAnswer(t, "stalled part", answer{resp, body}, 503, "no-cache")
	if d := blockWait(mustGet(t, s.store, "720p/"+playlistName)); d != 6*time.Second {
		t.Errorf("blockWait of a 2 s target = %v, want 6s", d)
	}
}

// TestBlockingEnded: a stream that ends answers its waiters with its
// final playlist.
func TestBlockingEnded(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	srv := newLLServer(t, s, Options{})
	defer srv.Close()
	waiting := getAsync(t, playlistURL(srv.URL, "360p", fmt.Sprintf("_HLS_msn=%d&_HLS_part=2", llFirstSeq)))
	hinted := getAsync(t, srv.URL+"/hls/"+testPID+"/"+partName("360p", llFirstSeq, 1))
	s.end()
	a := <-waiting
	checkAnswer(t, "ended playlist", a, 200, llTargetMaxAge)
	if !bytes.Contains(a.body, []byte("#EXT-X-ENDLIST\n")) || lists(a.body, llFirstSeq, 2) {
		t.Fatalf("ended playlist:\n%s", a.body)
	}
	checkAnswer(t, "part that never came", <-hinted, 404, "no-cache")
}

// TestRenditionReports: a low-latency playlist, full or delta, blocking
// or not, reports every other rendition's last part; a TS playlist is
// served as written, even on a stream with an edge.
func TestRenditionReports(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	for range 5 {
		s.advance("1080p") // segment llFirstSeq complete, part 1 of the next
	}
	s.advance("360p")
	srv := newLLServer(t, s, Options{})
	defer srv.Close()
	want := fmt.Sprintf("#EXT-X-RENDITION-REPORT:URI=\"../1080p/index.m3u8\",LAST-MSN=%d,LAST-PART=1\n"+
		"#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\",LAST-MSN=%d,LAST-PART=1\n", llFirstSeq+1, llFirstSeq)
	for _, q := range []string{"", "_HLS_skip=YES", fmt.Sprintf("_HLS_msn=%d&_HLS_part=0", llFirstSeq)} {
		resp, body := do(t, "GET", playlistURL(srv.URL, "720p", q), nil)
		if resp.StatusCode != 200 || !strings.HasSuffix(string(body), want) || strings.Count(string(body), "RENDITION-REPORT") != 2 {
			t.Errorf("720p?%s: status %d, want it to end with\n%s\ngot:\n%s", q, resp.StatusCode, want, body)
		}
	}
	// The store's playlist is not changed by the reports.
	if bytes.Contains(mustGet(t, s.store, "720p/"+playlistName), []byte("RENDITION-REPORT")) {
		t.Error("the reports were written into the store's playlist")
	}

	f := loadFixture(t)
	ts := hlsmux.NewMemoryStore()
	f.publish(t, ts, 4, false)
	edge := hlsmux.NewEdge()
	edge.Advance("90p", hlsmux.Position{MSN: fixtureFirstSeq + 3, Complete: true})
	table := newEdgeTable()
	table.setEdge(testPID, ts, edge)
	tsSrv := httptest.NewServer(NewLocal(table, Options{Logger: testenv.Logger(t)}))
	defer tsSrv.Close()
	for _, q := range []string{"", "_HLS_skip=YES", fmt.Sprintf("_HLS_msn=%d", fixtureFirstSeq+9)} {
		resp, body := do(t, "GET", playlistURL(tsSrv.URL, "180p", q), nil)
		checkAnswer(t, "TS playlist ?"+q, answer{resp, body}, 200, "no-cache")
		if !bytes.Equal(body, mustGet(t, ts, "180p/"+playlistName)) {
			t.Errorf("TS playlist ?%s: served\n%s\nnot the store's", q, body)
		}
	}
}

// TestDeltaUpdate: _HLS_skip (YES or v2) serves the delta update.
func TestDeltaUpdate(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	for range 4 * llPartsPerSegment {
		s.advance("720p")
	}
	srv := newLLServer(t, s, Options{})
	defer srv.Close()
	delta := mustGet(t, s.store, "720p/"+deltaName)
	if !bytes.Contains(delta, []byte("#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n")) {
		t.Fatalf("the fixture's delta skips nothing:\n%s", delta)
	}
	for _, q := range []string{"_HLS_skip=YES", "_HLS_skip=v2", "_HLS_skip=YES&_HLS_msn=" + fmt.Sprint(llFirstSeq+3)} {
		resp, body := do(t, "GET", playlistURL(srv.URL, "720p", q), nil)
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, delta) {
			t.Errorf("?%s: status %d, want the delta update:\n%s", q, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "GET", playlistURL(srv.URL, "720p", ""), nil)
	if resp.StatusCode != 200 || bytes.Contains(body, []byte("EXT-X-SKIP")) {
		t.Errorf("no directive: status %d, served a delta:\n%s", resp.StatusCode, body)
	}
}

// TestPartWait: a part not written yet, as a preload hint names it, is
// held until it is, then served as a long-lived fMP4 file; a part too far
// ahead, or of a rendition that does not exist, is 404 at once.
func TestPartWait(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	s := newLLStream(t)
	srv := newLLServer(t, s, Options{})
	defer srv.Close()
	base := srv.URL + "/hls/" + testPID + "/"
	hinted := getAsync(t, base+partName("720p", llFirstSeq, 1))
	segment := getAsync(t, base+fmt.Sprintf("720p/%d.m4s", llFirstSeq))
	s.advance("720p")
	a := <-hinted
	checkAnswer(t, "hinted part", a, 200, fmp4Kind.cacheControl)
	if string(a.body) != partName("720p", llFirstSeq, 1) || a.resp.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("hinted part: %s %q", a.resp.Header.Get("Content-Type"), a.body)
	}
	s.advance("720p")
	s.advance("720p")
	a = <-segment
	checkAnswer(t, "segment", a, 200, fmp4Kind.cacheControl)

	for name, status := range map[string]int{
		fmt.Sprintf("720p/init-%d.mp4", llFirstSeq):   200,
		partName("720p", llFirstSeq, 0):               200,
		partName("720p", llFirstSeq+3, 0):             404, // too far
		partName("720p", llFirstSeq-1, 0):             404, // before the stream
		partName("480p", llFirstSeq, 1):               404, // no such rendition
		fmt.Sprintf("720p/init-%d.mp4", llFirstSeq+1): 404,
		fmt.Sprintf("720p/%d.1.ts", llFirstSeq):       404,
		fmt.Sprintf("720p/%d.1000.m4s", llFirstSeq):   404,
		fmt.Sprintf("720p/%d..m4s", llFirstSeq):       404,
		fmt.Sprintf("720p/%d.1.2.m4s", llFirstSeq):    404,
		"720p/init-.mp4":                              404,
		"720p/" + deltaName:                           404, // served only for _HLS_skip
	} {
		resp, body := do(t, "GET", base+name, nil)
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d: %s", name, resp.StatusCode, status, body)
		}
	}
}
