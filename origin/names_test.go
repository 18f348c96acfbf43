package origin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/livestream/livestream/hlsmux"
)

func TestNames(t *testing.T) {
	cases := []struct {
		s                       string
		pid, rendition, segment bool
	}{
		{"k3x9q2mb7fz1w8nd", true, true, false},
		{"720p", true, true, false},
		{"audio_128k", false, true, false},
		{"high-1", false, true, false},
		{"1732430000000.ts", false, false, true},
		{"0.ts", false, false, true},
		{strings.Repeat("9", maxSegmentDigits) + ".ts", false, false, true},
		{strings.Repeat("9", maxSegmentDigits+1) + ".ts", false, false, false},
		{strings.Repeat("a", maxPlaybackIDLen), true, false, false},
		{strings.Repeat("a", maxPlaybackIDLen+1), false, false, false},
		{strings.Repeat("a", maxRenditionLen), true, true, false},
		{"", false, false, false},
		{".ts", false, false, false},
		{"12.TS", false, false, false},
		{"-1.ts", false, false, false},
		{"1.5.ts", false, false, false},
		{"..", false, false, false},
		{"a/b", false, false, false},
		{"a.b", false, false, false},
		{"a b", false, false, false},
		{"é", false, false, false},
		{"a\x00", false, false, false},
		{testStreamKey, false, false, false},
	}
	for _, c := range cases {
		if got := validPlaybackID(c.s); got != c.pid {
			t.Errorf("validPlaybackID(%q) = %v", c.s, got)
		}
		if got := validRendition(c.s); got != c.rendition {
			t.Errorf("validRendition(%q) = %v", c.s, got)
		}
		if got := validSegment(c.s); got != c.segment {
			t.Errorf("validSegment(%q) = %v", c.s, got)
		}
	}
}

// The grammar of what may reach a Streams and a Store, written apart from
// the validators so that the fuzz target checks them against it.
var (
	pidGrammar  = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	nameGrammar = regexp.MustCompile(`^(live\.m3u8|[A-Za-z0-9_-]{1,32}/(index\.m3u8|delta\.m3u8|[0-9]{1,19}\.ts|init-[0-9]{1,19}\.mp4|[0-9]{1,19}(\.[0-9]{1,3})?\.m4s))$`)
)

// watchedStreams records every playback id looked up, and every name read
// from the stores it returns.
type watchedStreams struct {
	store *hlsmux.MemoryStore
	mu    sync.Mutex
	pids  []string
	names []string
}

func (s *watchedStreams) Lookup(pid string) (hlsmux.Store, bool) {
	s.mu.Lock()
	s.pids = append(s.pids, pid)
	s.mu.Unlock()
	return watchedStore{s}, pid == testPID
}

type watchedStore struct{ s *watchedStreams }

func (w watchedStore) Get(name string) ([]byte, error) {
	w.s.mu.Lock()
	w.s.names = append(w.s.names, name)
	w.s.mu.Unlock()
	return w.s.store.Get(name)
}
func (w watchedStore) Put(string, []byte) error { panic("the origin wrote to a store") }
func (w watchedStore) Delete(string) error      { panic("the origin deleted from a store") }

// FuzzServeHTTP sends any method and path: the handler must not panic,
// must answer with CORS, and must pass only well-formed playback ids and
// names on, and answer 200 only for what the store holds.
func FuzzServeHTTP(f *testing.F) {
	for _, c := range routeCases {
		f.Add(c.method, c.path)
	}
	f.Add("GET", "/hls/"+testPID+"/180p/"+seg0+".ts?x=1#y")
	f.Add("GET", "/%2e%2e/%2e%2e/etc/passwd")
	f.Add("GET", "/hls/"+testPID+"/180p%2f"+seg0+".ts")
	f.Add("HEAD", "/static/")
	f.Add("GET", "/hls/"+testPID+"/180p/index.m3u8?_HLS_msn=1&_HLS_part=2&_HLS_skip=YES")
	f.Add("GET", "/hls/"+testPID+"/180p/index.m3u8?_HLS_part=2")
	f.Add("GET", "/hls/"+testPID+"/180p/"+seg0+".3.m4s")
	f.Add("GET", "/hls/"+testPID+"/180p/init-"+seg0+".mp4")

	store := hlsmux.NewMemoryStore()
	for _, name := range []string{masterName, "180p/index.m3u8", "180p/" + seg0 + ".ts", "90p/index.m3u8"} {
		if err := store.Put(name, []byte("data of "+name)); err != nil {
			f.Fatal(err)
		}
	}
	streams := &watchedStreams{store: store}
	h := NewLocal(streams, Options{})

	f.Fuzz(func(t *testing.T, method, target string) {
		req, err := http.NewRequest(method, "http://origin.test"+target, nil)
		if err != nil || req.URL.Host != "origin.test" {
			t.Skip()
		}
		streams.mu.Lock()
		streams.pids, streams.names = streams.pids[:0], streams.names[:0]
		streams.mu.Unlock()

		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s %q: Access-Control-Allow-Origin %q", method, target, got)
		}
		switch w.Code {
		case 200, 204, 206, 304, 400, 404, 405, 416:
		default:
			t.Errorf("%s %q: status %d", method, target, w.Code)
		}
		for _, pid := range streams.pids {
			if !pidGrammar.MatchString(pid) {
				t.Errorf("%s %q: looked up playback id %q", method, target, pid)
			}
		}
		for _, name := range streams.names {
			if !nameGrammar.MatchString(name) {
				t.Errorf("%s %q: read %q from the store", method, target, name)
			}
		}
		if w.Code == 200 && strings.HasPrefix(req.URL.Path, "/hls/") && method != "HEAD" {
			name := strings.TrimPrefix(req.URL.Path, "/hls/"+testPID+"/")
			want, err := store.Get(name)
			if err != nil || !bytes.Equal(w.Body.Bytes(), want) {
				t.Errorf("%s %q: 200 with %q, the store holds %q (%v)", method, target, w.Body.Bytes(), want, err)
			}
		}
	})
}

func TestMediaNames(t *testing.T) {
	cases := []struct {
		file     string
		ok       bool
		kind     fileKind
		seq      int64
		part     int
		waitable bool
	}{
		{"1732430000000.ts", true, segmentKind, 0, -1, false},
		{"1732430000009.m4s", true, fmp4Kind, 1732430000009, -1, true},
		{"1732430000009.3.m4s", true, fmp4Kind, 1732430000009, 3, true},
		{"1732430000009.999.m4s", true, fmp4Kind, 1732430000009, 999, true},
		{"init-1732430000000.mp4", true, fmp4Kind, 0, -1, false},
		{strings.Repeat("9", maxSegmentDigits) + ".m4s", true, fmp4Kind, 0, -1, false}, // beyond an int64: served, never waited for
		{"9223372036854775807.0.m4s", true, fmp4Kind, 9223372036854775807, 0, true},

		{"1732430000009.1000.m4s", false, fileKind{}, 0, 0, false},
		{strings.Repeat("9", maxSegmentDigits+1) + ".m4s", false, fileKind{}, 0, 0, false},
		{"1.2.3.m4s", false, fileKind{}, 0, 0, false},
		{"1..m4s", false, fileKind{}, 0, 0, false},
		{".1.m4s", false, fileKind{}, 0, 0, false},
		{".m4s", false, fileKind{}, 0, 0, false},
		{"1.-1.m4s", false, fileKind{}, 0, 0, false},
		{"1.M4S", false, fileKind{}, 0, 0, false},
		{"init-.mp4", false, fileKind{}, 0, 0, false},
		{"init-1.2.mp4", false, fileKind{}, 0, 0, false},
		{"init-x.mp4", false, fileKind{}, 0, 0, false},
		{"1.mp4", false, fileKind{}, 0, 0, false},
		{"1.3.ts", false, fileKind{}, 0, 0, false},
		{"index.m3u8", false, fileKind{}, 0, 0, false},
		{"delta.m3u8", false, fileKind{}, 0, 0, false},
		{testStreamKey + ".m4s", false, fileKind{}, 0, 0, false},
	}
	for _, c := range cases {
		m, ok := parseMediaName(c.file)
		if ok != c.ok {
			t.Errorf("parseMediaName(%q) ok = %v", c.file, ok)
			continue
		}
		if ok && (m.kind != c.kind || m.waitable != c.waitable || c.waitable && (m.seq != c.seq || m.part != c.part)) {
			t.Errorf("parseMediaName(%q) = %+v", c.file, m)
		}
	}
}
