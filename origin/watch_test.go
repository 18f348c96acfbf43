package origin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestWatchPage(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	srv, _, _ := newTestServer(t, loadFixture(t), Options{})
	defer srv.Close()

	pageURL := srv.URL + "/watch/" + otherPID // a page is served whether or not the stream is live
	resp, body := do(t, "GET", pageURL, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":                "text/html; charset=utf-8",
		"Cache-Control":               "no-cache",
		"Content-Security-Policy":     watchCSP,
		"Access-Control-Allow-Origin": "*",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{
		`data-src="../hls/` + otherPID + `/live.m3u8"`,
		`data-retry-ms="3000"`,
		`data-state="loading"`,
		`<select id="quality"`,
		`<video id="video"`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	if bytes.Contains(body, []byte("http://")) || bytes.Contains(body, []byte("https://")) || bytes.Contains(body, []byte("//")) {
		t.Errorf("the page names an external resource:\n%s", body)
	}

	// Every asset it names is served, from the embedded files, cached for good.
	base, _ := url.Parse(pageURL)
	refs := regexp.MustCompile(`(?:src|href)="(\.\./static/[^"]+)"`).FindAllSubmatch(body, -1)
	if len(refs) != 3 {
		t.Fatalf("the page names %d assets, want hls.js, its script and its style", len(refs))
	}
	for _, ref := range refs {
		u, _ := base.Parse(string(ref[1]))
		resp, got := do(t, "GET", u.String(), nil)
		if resp.StatusCode != 200 || len(got) == 0 {
			t.Errorf("GET %s: status %d, %d bytes", u.Path, resp.StatusCode, len(got))
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", u.Path, cc)
		}
		ext := u.Path[strings.LastIndexByte(u.Path, '.'):]
		if ct := resp.Header.Get("Content-Type"); ct != assetTypes[ext] || ct == "" {
			t.Errorf("%s: Content-Type %q", u.Path, ct)
		}
		// The name holds the content's hash.
		sum := sha256.Sum256(got)
		if !strings.Contains(u.Path, "."+hex.EncodeToString(sum[:])[:assetHashLen]+".") {
			t.Errorf("%s does not name its content's hash", u.Path)
		}
	}
	if resp, _ := do(t, "GET", srv.URL+"/static/hls.min.js", nil); resp.StatusCode != 404 {
		t.Errorf("an asset without its hash: status %d, want 404", resp.StatusCode)
	}
	if resp, body := do(t, "HEAD", pageURL, nil); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength <= 0 {
		t.Errorf("HEAD: status %d, %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	for _, bad := range []string{"/watch/a-b", "/watch/%3Cscript%3E", "/watch/" + testStreamKey, "/watch/"} {
		if resp, _ := do(t, "GET", srv.URL+bad, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 404", bad, resp.StatusCode)
		}
	}
}

func TestWatchPageRetry(t *testing.T) {
	srv, _, _ := newTestServer(t, loadFixture(t), Options{OfflineRetry: 1500 * time.Millisecond})
	defer srv.Close()
	_, body := do(t, "GET", srv.URL+"/watch/"+testPID, nil)
	if !bytes.Contains(body, []byte(`data-retry-ms="1500"`)) {
		t.Errorf("OfflineRetry 1.5 s is not on the page:\n%s", body)
	}
}

// TestWatchTemplateEscapes feeds the template what validPlaybackID keeps
// out, to prove the page would not run it even so.
func TestWatchTemplateEscapes(t *testing.T) {
	evil := `"><script>alert(1)</script>`
	var b bytes.Buffer
	if err := watchTemplate.Execute(&b, watchPage{PlaybackID: evil, Master: "../hls/" + evil + "/live.m3u8"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>alert") || strings.Contains(b.String(), `"><script`) {
		t.Errorf("the playback id was not escaped:\n%s", b.String())
	}
}

// TestVendoredHLSJS checks that the embedded hls.js is the version and file
// static/README.md names.
func TestVendoredHLSJS(t *testing.T) {
	js, err := staticFiles.ReadFile("static/hls.min.js")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("static/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(js)
	if !bytes.Contains(readme, []byte(hex.EncodeToString(sum[:]))) {
		t.Errorf("static/README.md does not note hls.min.js's sha256 %x", sum)
	}
	m := regexp.MustCompile(`hls\.js \*\*(\d+\.\d+\.\d+)\*\*`).FindSubmatch(readme)
	if m == nil || !bytes.Contains(js, []byte(`"`+string(m[1])+`"`)) {
		t.Errorf("static/README.md's hls.js version %q is not the embedded file's", m)
	}
	if _, err := os.Stat("static/LICENSE.hls.js"); err != nil {
		t.Errorf("hls.js's licence is missing: %v", err)
	}
}
