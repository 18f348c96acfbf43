package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

// The recordings of the /vod/ cases: a finished session and one still
// recording, of testPID, in the record package's layout.
const (
	vodSession    = "1732430000000"
	vodRecording  = "1732430999999"
	vodSegment    = "1732430000000.ts"
	vodFMP4       = "1732430000000.m4s"
	vodInit       = "init-1732430000000.mp4"
	vodSecretText = "NOT A RECORDING"
)

var vodFiles = map[string]string{
	testPID + "/vod-" + vodSession + ".m3u8":                    "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.000,\n" + vodSession + "/360p/" + vodSegment + "\n#EXT-X-ENDLIST\n",
	testPID + "/vod-" + vodRecording + ".m3u8":                  "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n",
	testPID + "/" + vodSession + "/360p/" + vodSegment:          "\x47 a segment",
	testPID + "/" + vodSession + "/360p/index.m3u8":             "#EXTM3U\n#EXT-X-ENDLIST\n",
	testPID + "/" + vodSession + "/session.json":                `{"state":"complete"}`,
	testPID + "/" + vodSession + "/360p/" + vodSegment + ".tmp": "a part",
	testPID + "/" + vodSession + "/720p/" + vodFMP4:             "moof an fMP4 segment",
	testPID + "/" + vodSession + "/720p/" + vodInit:             "ftyp moov an init section",
	testPID + "/" + vodSession + "/720p/1732430000000.0.m4s":    "a live part",
	testPID + "/" + vodSession + "/720p/1732430000000.mp4":      "not a segment",
}

// vodCase is one /vod/ request; file is the name under the directory
// served when status is 200.
type vodCase struct {
	name, path string
	status     int
	file       string
	kind       fileKind
}

var vodCases = []vodCase{
	{"VOD playlist", "/vod/" + testPID + "/vod-" + vodSession + ".m3u8", 200, testPID + "/vod-" + vodSession + ".m3u8", vodFinalKind},
	{"EVENT playlist", "/vod/" + testPID + "/vod-" + vodRecording + ".m3u8", 200, testPID + "/vod-" + vodRecording + ".m3u8", vodGrowingKind},
	{"segment", "/vod/" + testPID + "/" + vodSession + "/360p/" + vodSegment, 200, testPID + "/" + vodSession + "/360p/" + vodSegment, vodSegmentKind},
	{"rendition playlist", "/vod/" + testPID + "/" + vodSession + "/360p/index.m3u8", 200, testPID + "/" + vodSession + "/360p/index.m3u8", vodFinalKind},
	{"fMP4 segment", "/vod/" + testPID + "/" + vodSession + "/720p/" + vodFMP4, 200, testPID + "/" + vodSession + "/720p/" + vodFMP4, vodFMP4SegmentKind},
	{"init section", "/vod/" + testPID + "/" + vodSession + "/720p/" + vodInit, 200, testPID + "/" + vodSession + "/720p/" + vodInit, vodInitKind},

	{"no such session", "/vod/" + testPID + "/vod-1.m3u8", 404, "", fileKind{}},
	{"no such stream", "/vod/" + otherPID + "/vod-" + vodSession + ".m3u8", 404, "", fileKind{}},
	{"session info", "/vod/" + testPID + "/" + vodSession + "/session.json", 404, "", fileKind{}},
	{"temporary file", "/vod/" + testPID + "/" + vodSession + "/360p/" + vodSegment + ".tmp", 404, "", fileKind{}},
	{"session not digits", "/vod/" + testPID + "/vod-abc.m3u8", 404, "", fileKind{}},
	{"session too long", "/vod/" + testPID + "/vod-" + strings.Repeat("1", maxSessionDigits+1) + ".m3u8", 404, "", fileKind{}},
	{"playlist without prefix", "/vod/" + testPID + "/" + vodSession + ".m3u8", 404, "", fileKind{}},
	{"session dir not digits", "/vod/" + testPID + "/x" + vodSession + "/360p/" + vodSegment, 404, "", fileKind{}},
	{"escaped dot-dot", "/vod/" + testPID + "/%2e%2e/vod-" + vodSession + ".m3u8", 404, "", fileKind{}},
	{"escaped slash in segment", "/vod/" + testPID + "/" + vodSession + "/360p/..%2F..%2Fsession.json", 404, "", fileKind{}},
	{"pid escaped dot-dot", "/vod/%2e%2e/secret.txt", 404, "", fileKind{}},
	{"out of the directory", "/vod/" + testPID + "/../../secret.txt", 404, "", fileKind{}},
	{"pid is a stream key", "/vod/" + testStreamKey + "/vod-" + vodSession + ".m3u8", 404, "", fileKind{}},
	{"rendition with a dot", "/vod/" + testPID + "/" + vodSession + "/360.p/" + vodSegment, 404, "", fileKind{}},
	{"too deep", "/vod/" + testPID + "/" + vodSession + "/360p/x/" + vodSegment, 404, "", fileKind{}},
	{"directory", "/vod/" + testPID + "/" + vodSession + "/360p", 404, "", fileKind{}},
	{"part", "/vod/" + testPID + "/" + vodSession + "/720p/1732430000000.0.m4s", 404, "", fileKind{}},
	{"mp4 not an init section", "/vod/" + testPID + "/" + vodSession + "/720p/1732430000000.mp4", 404, "", fileKind{}},
	{"init section without seq", "/vod/" + testPID + "/" + vodSession + "/720p/init-.mp4", 404, "", fileKind{}},
	{"init section not digits", "/vod/" + testPID + "/" + vodSession + "/720p/init-x1.mp4", 404, "", fileKind{}},
	{"init section as m4s", "/vod/" + testPID + "/" + vodSession + "/720p/init-1732430000000.m4s", 404, "", fileKind{}},
	{"init section seq too long", "/vod/" + testPID + "/" + vodSession + "/720p/init-" + strings.Repeat("1", maxVODSeqDigits+1) + ".mp4", 404, "", fileKind{}},
	{"fMP4 segment seq too long", "/vod/" + testPID + "/" + vodSession + "/720p/" + strings.Repeat("1", maxVODSeqDigits+1) + ".m4s", 404, "", fileKind{}},
	{"m4s without seq", "/vod/" + testPID + "/" + vodSession + "/720p/.m4s", 404, "", fileKind{}},
}

// vodDir writes vodFiles under a new directory, and a file beside it that
// no request may reach.
func vodDir(t testing.TB) string {
	t.Helper()
	parent := t.TempDir()
	if err := os.WriteFile(filepath.Join(parent, "secret.txt"), []byte(vodSecretText), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(parent, "recordings")
	for name, data := range vodFiles {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// dirSource reads the recordings under root, as record.DirBackend.Get
// does for the server, and calls asked (when not nil) with each name.
func dirSource(root string, asked func(name string)) VODSource {
	return func(ctx context.Context, name string) ([]byte, error) {
		if asked != nil {
			asked(name)
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", name, ErrNotFound)
		}
		return data, err
	}
}

func TestVODRoutes(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	root := vodDir(t)
	srv := httptest.NewServer(NewLocal(newStreamTable(), Options{VOD: dirSource(root, nil), Logger: testenv.Logger(t)}))
	defer srv.Close()
	for _, c := range vodCases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, "GET", srv.URL+c.path, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("GET %s: status %d, want %d (%q)", c.path, resp.StatusCode, c.status, body)
			}
			hd := resp.Header
			if hd.Get("Access-Control-Allow-Origin") != "*" || hd.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("CORS or nosniff missing: %v", hd)
			}
			if bytes.Contains(body, []byte(testStreamKey)) || bytes.Contains(body, []byte(vodSecretText)) {
				t.Errorf("the response holds the stream key or a file outside the recordings: %q", body)
			}
			if c.status != 200 {
				return
			}
			if string(body) != vodFiles[c.file] {
				t.Errorf("body %q, want %s's %q", body, c.file, vodFiles[c.file])
			}
			if hd.Get("Content-Type") != c.kind.contentType || hd.Get("Cache-Control") != c.kind.cacheControl {
				t.Errorf("Content-Type %q, Cache-Control %q; want %q, %q", hd.Get("Content-Type"), hd.Get("Cache-Control"), c.kind.contentType, c.kind.cacheControl)
			}
		})
	}
	// A preflight, and a segment in parts as players ask for it.
	if resp, _ := do(t, "OPTIONS", srv.URL+vodCases[2].path, nil); resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Methods") != allowMethods {
		t.Errorf("preflight of a VOD segment: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := do(t, "GET", srv.URL+vodCases[2].path, http.Header{"Range": {"bytes=2-"}})
	if resp.StatusCode != 206 || string(body) != vodFiles[vodCases[2].file][2:] {
		t.Errorf("range of a VOD segment: %d %q", resp.StatusCode, body)
	}
	// A player revalidating a segment it holds gets 304.
	tag := resp.Header.Get("ETag")
	if resp, _ := do(t, "GET", srv.URL+vodCases[2].path, http.Header{"If-None-Match": {tag}}); tag == "" || resp.StatusCode != 304 {
		t.Errorf("revalidation of a VOD segment with ETag %q: %d", tag, resp.StatusCode)
	}
}

// TestVODStorageDown: when the storage fails (an S3 outage), /vod/ answers
// 503, uncached and naming nothing, and logs the failure with the playback
// id only; a missing file is still 404.
func TestVODStorageDown(t *testing.T) {
	logs := &testenv.LogBuffer{}
	var failing atomic.Bool
	root := vodDir(t)
	files := dirSource(root, nil)
	src := func(ctx context.Context, name string) ([]byte, error) {
		if ctx.Err() != nil {
			t.Errorf("source called with a done context: %v", ctx.Err())
		}
		if failing.Load() {
			return nil, fmt.Errorf("get %s: dial tcp 127.0.0.1:9: connection refused", name)
		}
		return files(ctx, name)
	}
	srv := httptest.NewServer(NewLocal(newStreamTable(), Options{VOD: src, Logger: logs.Logger()}))
	defer srv.Close()
	failing.Store(true)
	for _, c := range vodCases[:4] {
		resp, body := do(t, "GET", srv.URL+c.path, nil)
		if resp.StatusCode != 503 || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s with the storage down: %d %v", c.path, resp.StatusCode, resp.Header)
		}
		if bytes.Contains(body, []byte(testPID)) || bytes.Contains(body, []byte("127.0.0.1")) {
			t.Errorf("GET %s with the storage down: the answer names the file or the storage: %q", c.path, body)
		}
	}
	if l := logs.String(); !strings.Contains(l, "read recording file") || !strings.Contains(l, "playback_id="+testPID) {
		t.Errorf("the storage failure is not logged with its playback id:\n%s", l)
	}
	failing.Store(false)
	if resp, _ := do(t, "GET", srv.URL+vodCases[0].path, nil); resp.StatusCode != 200 {
		t.Errorf("GET %s once the storage is back: %d", vodCases[0].path, resp.StatusCode)
	}
	if resp, _ := do(t, "GET", srv.URL+"/vod/"+testPID+"/vod-1.m3u8", nil); resp.StatusCode != 404 {
		t.Errorf("a missing recording (ErrNotFound wrapped): %d, want 404", resp.StatusCode)
	}
}

// TestVODOff: without Options.VOD there is no /vod/.
func TestVODOff(t *testing.T) {
	srv := httptest.NewServer(NewLocal(newStreamTable(), Options{}))
	defer srv.Close()
	if resp, _ := do(t, "GET", srv.URL+vodCases[0].path, nil); resp.StatusCode != 404 {
		t.Errorf("/vod/ without a VOD directory: status %d", resp.StatusCode)
	}
}

// vodGrammar is every name /vod/ may serve.
var vodGrammar = regexp.MustCompile(`^[A-Za-z0-9]{1,64}/(vod-[0-9]{1,19}\.m3u8|[0-9]{1,19}/[A-Za-z0-9_-]{1,32}/(index\.m3u8|[0-9]{1,19}\.(ts|m4s)|init-[0-9]{1,19}\.mp4))$`)

// FuzzVODRoutes: whatever the path, /vod/ asks its source only for names
// that fit the layout, and answers only with such a file of the
// recordings, never with another file.
func FuzzVODRoutes(f *testing.F) {
	for _, c := range vodCases {
		f.Add("GET", c.path)
	}
	f.Add("HEAD", "/vod/"+testPID+"/vod-"+vodSession+".m3u8?x=1")
	f.Add("GET", "/vod/"+testPID+"/"+vodSession+"%2f360p/"+vodSegment)
	f.Add("GET", "/vod//vod-"+vodSession+".m3u8")
	root := vodDir(f)
	var asked []string
	h := NewLocal(newStreamTable(), Options{VOD: dirSource(root, func(name string) { asked = append(asked, name) })})
	served := map[string]string{}
	for name, data := range vodFiles {
		if vodGrammar.MatchString(name) {
			served[data] = name
		}
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		req, err := http.NewRequest(method, "http://origin.test"+target, nil)
		if err != nil || req.URL.Host != "origin.test" {
			t.Skip()
		}
		w := httptest.NewRecorder()
		asked = asked[:0]
		h.ServeHTTP(w, req)
		for _, name := range asked {
			if !vodGrammar.MatchString(name) {
				t.Errorf("%s %q: the source was asked for %q, outside the layout", method, target, name)
			}
		}
		switch w.Code {
		case 200, 204, 206, 304, 404, 405, 416:
		default:
			t.Errorf("%s %q: status %d", method, target, w.Code)
		}
		if w.Code == 200 && strings.HasPrefix(req.URL.Path, "/vod/") && method != "HEAD" {
			if _, ok := served[w.Body.String()]; !ok {
				t.Errorf("%s %q: served %q, not a recording's file", method, target, w.Body.String())
			}
		}
		if strings.Contains(w.Body.String(), vodSecretText) {
			t.Errorf("%s %q: served a file outside the recordings", method, target)
		}
	})
}
