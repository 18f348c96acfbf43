package origin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

// testPID is the live stream of the route cases; otherPID is not live.
const (
	testPID  = "k3x9q2mb7fz1w8nd"
	otherPID = "a0b1c2d3e4f5g6h7"
)

// A stream key as the registry issues them: it must never come back in a
// response or reach a log, wherever a viewer pastes it.
const testStreamKey = "sk_abcdefghijklmnopqrstuvwxyz234567"

// routeCase is one request and the status it gets from a handler serving
// testPID with the fixture's first four segments. The table drives the
// handler test and seeds the fuzz target.
type routeCase struct {
	name, method, path string
	status             int
	// kind is the file's kind when status is 200.
	kind fileKind
}

var seg0, seg3, seg4 = fmt.Sprint(fixtureFirstSeq), fmt.Sprint(fixtureFirstSeq + 3), fmt.Sprint(fixtureFirstSeq + 4)

var routeCases = []routeCase{
	{"master", "GET", "/hls/" + testPID + "/live.m3u8", 200, masterKind},
	{"master HEAD", "HEAD", "/hls/" + testPID + "/live.m3u8", 200, masterKind},
	{"media playlist", "GET", "/hls/" + testPID + "/180p/index.m3u8", 200, playlistKind},
	{"media playlist HEAD", "HEAD", "/hls/" + testPID + "/90p/index.m3u8", 200, playlistKind},
	{"segment", "GET", "/hls/" + testPID + "/180p/" + seg0 + ".ts", 200, segmentKind},
	{"segment HEAD", "HEAD", "/hls/" + testPID + "/90p/" + seg3 + ".ts", 200, segmentKind},

	{"segment not yet written", "GET", "/hls/" + testPID + "/180p/" + seg4 + ".ts", 404, fileKind{}},
	{"unknown rendition", "GET", "/hls/" + testPID + "/720p/index.m3u8", 404, fileKind{}},
	{"stream not live", "GET", "/hls/" + otherPID + "/live.m3u8", 404, fileKind{}},
	{"stream not live, segment", "GET", "/hls/" + otherPID + "/180p/" + seg0 + ".ts", 404, fileKind{}},
	{"other file at the top", "GET", "/hls/" + testPID + "/index.m3u8", 404, fileKind{}},
	{"other file in a rendition", "GET", "/hls/" + testPID + "/180p/live.m3u8", 404, fileKind{}},
	{"too deep", "GET", "/hls/" + testPID + "/180p/x/" + seg0 + ".ts", 404, fileKind{}},
	{"trailing slash", "GET", "/hls/" + testPID + "/live.m3u8/", 404, fileKind{}},
	{"no pid", "GET", "/hls//live.m3u8", 404, fileKind{}},
	{"pid with a dash", "GET", "/hls/k3x9-q2mb/live.m3u8", 404, fileKind{}},
	{"pid with a dot", "GET", "/hls/k3x9.q2mb/live.m3u8", 404, fileKind{}},
	{"pid escaped dot-dot", "GET", "/hls/%2e%2e/live.m3u8", 404, fileKind{}},
	{"pid escaped slash", "GET", "/hls/a%2Fb/live.m3u8", 404, fileKind{}},
	{"pid too long", "GET", "/hls/" + strings.Repeat("a", maxPlaybackIDLen+1) + "/live.m3u8", 404, fileKind{}},
	{"pid is a stream key", "GET", "/hls/" + testStreamKey + "/live.m3u8", 404, fileKind{}},
	{"rendition escaped slash", "GET", "/hls/" + testPID + "/18%2F0p/index.m3u8", 404, fileKind{}},
	{"rendition dot-dot", "GET", "/hls/" + testPID + "/%2e%2e/index.m3u8", 404, fileKind{}},
	{"rendition with a dot", "GET", "/hls/" + testPID + "/180.p/index.m3u8", 404, fileKind{}},
	{"rendition too long", "GET", "/hls/" + testPID + "/" + strings.Repeat("p", maxRenditionLen+1) + "/index.m3u8", 404, fileKind{}},
	{"rendition is a stream key", "GET", "/hls/" + testPID + "/" + testStreamKey + "/index.m3u8", 404, fileKind{}},
	{"segment not digits", "GET", "/hls/" + testPID + "/180p/abc.ts", 404, fileKind{}},
	{"segment negative", "GET", "/hls/" + testPID + "/180p/-1.ts", 404, fileKind{}},
	{"segment upper case", "GET", "/hls/" + testPID + "/180p/" + seg0 + ".TS", 404, fileKind{}},
	{"segment suffix", "GET", "/hls/" + testPID + "/180p/" + seg0 + ".ts.bak", 404, fileKind{}},
	{"segment no number", "GET", "/hls/" + testPID + "/180p/.ts", 404, fileKind{}},
	{"segment too long", "GET", "/hls/" + testPID + "/180p/" + strings.Repeat("1", maxSegmentDigits+1) + ".ts", 404, fileKind{}},
	{"segment escaped slash", "GET", "/hls/" + testPID + "/180p/..%2F..%2Flive.m3u8", 404, fileKind{}},
	{"segment is a stream key", "GET", "/hls/" + testPID + "/180p/" + testStreamKey + ".ts", 404, fileKind{}},
	{"dot-dot", "GET", "/hls/" + testPID + "/180p/../live.m3u8", 404, fileKind{}},
	{"dot", "GET", "/hls/" + testPID + "/./live.m3u8", 404, fileKind{}},
	{"double slash", "GET", "/hls/" + testPID + "//180p/index.m3u8", 404, fileKind{}},
	{"unknown route", "GET", "/live.m3u8", 404, fileKind{}},

	{"POST master", "POST", "/hls/" + testPID + "/live.m3u8", 405, fileKind{}},
	{"PUT segment", "PUT", "/hls/" + testPID + "/180p/" + seg0 + ".ts", 405, fileKind{}},
	{"DELETE playlist", "DELETE", "/hls/" + testPID + "/180p/index.m3u8", 405, fileKind{}},
	{"PATCH watch", "PATCH", "/watch/" + testPID, 405, fileKind{}},
	{"preflight master", "OPTIONS", "/hls/" + testPID + "/live.m3u8", 204, fileKind{}},
	{"preflight segment", "OPTIONS", "/hls/" + testPID + "/180p/" + seg0 + ".ts", 204, fileKind{}},
	{"preflight watch", "OPTIONS", "/watch/" + testPID, 204, fileKind{}},
}

// newTestServer serves testPID with the fixture's first four segments
// from a real HTTP server on 127.0.0.1.
func newTestServer(t *testing.T, f *hlsFixture, opts Options) (*httptest.Server, *streamTable, *hlsmux.MemoryStore) {
	t.Helper()
	store := hlsmux.NewMemoryStore()
	f.publish(t, store, 4, false)
	streams := newStreamTable()
	streams.set(testPID, store)
	if opts.Logger == nil {
		opts.Logger = testenv.Logger(t)
	}
	srv := httptest.NewServer(NewLocal(streams, opts))
	t.Cleanup(srv.Close)
	return srv, streams, store
}

// do sends one request without following redirects and returns the
// response with its body read.
func do(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, url, err)
	}
	return resp, body
}

func TestRoutes(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	srv, _, store := newTestServer(t, f, Options{})
	defer srv.Close()

	for _, c := range routeCases {
		t.Run(c.name, func(t *testing.T) { checkRoute(t, srv.URL, store, c) })
	}
}

// checkRoute sends c's request to the origin at base, serving testPID from
// store, and checks its status, headers and body.
func checkRoute(t *testing.T, base string, store hlsmux.Store, c routeCase) {
	t.Helper()
	resp, body := do(t, c.method, base+c.path, nil)
	if resp.StatusCode != c.status {
		t.Fatalf("%s %s: status %d, want %d (%q)", c.method, c.path, resp.StatusCode, c.status, body)
	}
	hd := resp.Header
	if got := hd.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
	if got := hd.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if bytes.Contains(body, []byte(testStreamKey)) {
		t.Errorf("the response repeats the stream key: %q", body)
	}
	switch c.status {
	case 200:
		if c.kind == (fileKind{}) { // the watch page has its own test
			return
		}
		name := strings.TrimPrefix(c.path, "/hls/"+testPID+"/")
		want, err := store.Get(name)
		if err != nil {
			t.Fatalf("the store has no %s: %v", name, err)
		}
		if got := hd.Get("Content-Type"); got != c.kind.contentType {
			t.Errorf("Content-Type = %q, want %q", got, c.kind.contentType)
		}
		if got := hd.Get("Cache-Control"); got != c.kind.cacheControl {
			t.Errorf("Cache-Control = %q, want %q", got, c.kind.cacheControl)
		}
		if got := hd.Get("Content-Length"); got != fmt.Sprint(len(want)) {
			t.Errorf("Content-Length = %q, want %d", got, len(want))
		}
		if hd.Get("ETag") != etag(want) || hd.Get("Accept-Ranges") != "bytes" {
			t.Errorf("ETag %q, Accept-Ranges %q; want %q, bytes", hd.Get("ETag"), hd.Get("Accept-Ranges"), etag(want))
		}
		if c.method == "HEAD" {
			want = nil
		}
		if !bytes.Equal(body, want) {
			t.Errorf("body: %d bytes differ from the store's %d", len(body), len(want))
		}
	case 204:
		for k, want := range map[string]string{
			"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
			"Access-Control-Max-Age":       preflightMaxAge,
			"Allow":                        "GET, HEAD, OPTIONS",
		} {
			if got := hd.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if got := hd.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "Range") {
			t.Errorf("Access-Control-Allow-Headers = %q, want Range among them", got)
		}
	case 404:
		if hd.Get("Cache-Control") != "no-cache" {
			t.Errorf("a 404 has Cache-Control %q: a cache would hide the stream's start", hd.Get("Cache-Control"))
		}
	case 405:
		if got := hd.Get("Allow"); got != "GET, HEAD, OPTIONS" {
			t.Errorf("Allow = %q", got)
		}
	}
}

func TestRangeAndValidators(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	srv, _, store := newTestServer(t, f, Options{})
	defer srv.Close()
	segURL := srv.URL + "/hls/" + testPID + "/180p/" + seg0 + ".ts"
	seg, _ := store.Get("180p/" + seg0 + ".ts")

	// A range of the first TS packets, as a player probing the stream asks.
	resp, body := do(t, "GET", segURL, http.Header{"Range": {"bytes=0-375"}})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, seg[:376]) {
		t.Errorf("Range 0-375: status %d, %d bytes, same as the segment's: %v", resp.StatusCode, len(body), bytes.Equal(body, seg[:376]))
	}
	if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes 0-375/%d", len(seg)); got != want {
		t.Errorf("Content-Range = %q, want %q", got, want)
	}
	if got := resp.Header.Get("Cache-Control"); got != segmentKind.cacheControl {
		t.Errorf("a range of a segment has Cache-Control %q", got)
	}
	resp, body = do(t, "GET", segURL, http.Header{"Range": {fmt.Sprintf("bytes=%d-", len(seg)-188)}})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, seg[len(seg)-188:]) {
		t.Errorf("Range of the last packet: status %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, _ = do(t, "GET", segURL, http.Header{"Range": {fmt.Sprintf("bytes=%d-", len(seg)+10)}})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range past the end: status %d, want 416", resp.StatusCode)
	}

	// A playlist revalidated while unchanged is 304; once the next segment
	// is written it is new.
	plURL := srv.URL + "/hls/" + testPID + "/180p/index.m3u8"
	resp, _ = do(t, "GET", plURL, nil)
	tag := resp.Header.Get("ETag")
	resp, body = do(t, "GET", plURL, http.Header{"If-None-Match": {tag}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("unchanged playlist revalidated: status %d with %d bytes, want 304", resp.StatusCode, len(body))
	}
	if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("304 headers: %v", resp.Header)
	}
	f.publish(t, store, 5, false)
	resp, body = do(t, "GET", plURL, http.Header{"If-None-Match": {tag}})
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(seg4+".ts")) || resp.Header.Get("ETag") == tag {
		t.Errorf("changed playlist revalidated: status %d, ETag %q (was %q), lists %s: %v",
			resp.StatusCode, resp.Header.Get("ETag"), tag, seg4, bytes.Contains(body, []byte(seg4+".ts")))
	}
}

func TestStreamEnds(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	srv, streams, store := newTestServer(t, f, Options{})
	defer srv.Close()
	master := srv.URL + "/hls/" + testPID + "/live.m3u8"
	playlist := srv.URL + "/hls/" + testPID + "/180p/index.m3u8"

	// Ended, in its grace period: still served, with ENDLIST.
	f.publish(t, store, fixtureSegments, true)
	resp, body := do(t, "GET", playlist, nil)
	if resp.StatusCode != 200 || !bytes.HasSuffix(body, []byte("#EXT-X-ENDLIST\n")) {
		t.Errorf("ended playlist: status %d, ENDLIST: %v", resp.StatusCode, bytes.Contains(body, []byte("ENDLIST")))
	}
	// After the grace period: gone.
	streams.set(testPID, nil)
	for _, u := range []string{master, playlist, srv.URL + "/hls/" + testPID + "/180p/" + seg0 + ".ts"} {
		if resp, _ := do(t, "GET", u, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s after the stream left: status %d, want 404", u, resp.StatusCode)
		}
	}
	// Live again, in a new store.
	again := hlsmux.NewMemoryStore()
	f.publish(t, again, 1, false)
	streams.set(testPID, again)
	if resp, _ := do(t, "GET", master, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("master once live again: status %d", resp.StatusCode)
	}
}

// failingStore fails every read with an error that is not ErrNotFound.
type failingStore struct{ hlsmux.Store }

var errDiskGone = errors.New("read /data/live/segment: input/output error")

func (failingStore) Get(string) ([]byte, error) { return nil, errDiskGone }

func TestStoreFailure(t *testing.T) {
	var logs testenv.LogBuffer
	streams := newStreamTable()
	streams.set(testPID, failingStore{})
	srv := httptest.NewServer(NewLocal(streams, Options{Logger: logs.Logger()}))
	defer srv.Close()

	resp, body := do(t, "GET", srv.URL+"/hls/"+testPID+"/180p/index.m3u8", nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	if bytes.Contains(body, []byte("/data")) || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("500 tells the client %q with Cache-Control %q", body, resp.Header.Get("Cache-Control"))
	}
	log := logs.String()
	for _, want := range []string{testPID, "180p/index.m3u8", errDiskGone.Error()} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not name %q:\n%s", want, log)
		}
	}
}

// TestStreamKeyNeverEchoed sends a stream key everywhere a viewer could
// paste one: nothing answers or logs it, and no store is asked for it.
func TestStreamKeyNeverEchoed(t *testing.T) {
	var logs testenv.LogBuffer
	streams := newStreamTable()
	streams.set(testPID, failingStore{}) // a store that gets asked logs the name
	srv := httptest.NewServer(NewLocal(streams, Options{Logger: logs.Logger()}))
	defer srv.Close()

	k := testStreamKey
	paths := []string{
		"/hls/" + k + "/live.m3u8",
		"/hls/" + testPID + "/" + k + "/index.m3u8",
		"/hls/" + testPID + "/180p/" + k + ".ts",
		"/hls/" + testPID + "/" + k,
		"/watch/" + k,
		"/static/" + k + ".js",
		"/" + k,
		"/hls/" + testPID + "/live.m3u8?key=" + k,
		"/hls/" + k + "//live.m3u8",
		"/hls/" + k + "/../" + testPID + "/live.m3u8",
		"/watch/" + k + "/",
	}
	for _, p := range paths {
		for _, m := range []string{"GET", "HEAD", "POST", "OPTIONS"} {
			resp, body := do(t, m, srv.URL+p, http.Header{"X-Stream-Key": {k}})
			if bytes.Contains(body, []byte(k)) {
				t.Errorf("%s %s: the body repeats the key: %q", m, p, body)
			}
			for name, vs := range resp.Header {
				if strings.Contains(strings.Join(vs, " "), k) {
					t.Errorf("%s %s: header %s repeats the key", m, p, name)
				}
			}
		}
	}
	if strings.Contains(logs.String(), k) {
		t.Errorf("the log holds the stream key:\n%s", logs.String())
	}
}

func BenchmarkServeSegment(b *testing.B) {
	store := hlsmux.NewMemoryStore()
	seg := bytes.Repeat([]byte{0x47}, 1<<20) // a 1 MiB segment, 4 Mb/s for 2 s
	name := "720p/" + seg0 + ".ts"
	if err := store.Put(name, seg); err != nil {
		b.Fatal(err)
	}
	streams := newStreamTable()
	streams.set(testPID, store)
	h := NewLocal(streams, Options{})
	req := httptest.NewRequest("GET", "/hls/"+testPID+"/"+name, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || w.Body.Len() != len(seg) {
			b.Fatalf("status %d, %d bytes", w.Code, w.Body.Len())
		}
	}
}
