package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
)

// browserTimeout bounds the whole browser test: start, offline, playing,
// a quality switch and the end of the stream take about 10 s.
const browserTimeout = 40 * time.Second

// requestLog records the requests a server answered, so the test learns
// what the player fetched without any test code in the page.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct {
	method, path string
	status       int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{r.Method, r.URL.Path, sw.status})
		l.mu.Unlock()
	})
}

// count returns how many requests from index since on match.
func (l *requestLog) count(since int, match func(loggedRequest) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs[min(since, len(l.reqs)):] {
		if match(r) {
			n++
		}
	}
	return n
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// pageState is what the test reads of the watch page.
type pageState struct {
	State       string   `json:"state"`
	Error       string   `json:"error"`
	Status      string   `json:"status"`
	Options     []string `json:"options"`
	CurrentTime float64  `json:"currentTime"`
}

const readPageState = `(() => {
	const p = document.getElementById('player');
	return {
		state: p.dataset.state || '',
		error: p.dataset.error || '',
		status: document.getElementById('status').textContent,
		options: Array.from(document.querySelectorAll('#quality option'), o => o.textContent),
		currentTime: document.getElementById('video').currentTime,
	};
})()`

// TestWatchPageInChromium plays the watch page in Debian's headless
// Chromium: offline for a stream that is not live, playing (with hls.js,
// both renditions in the quality menu, fragments fetched and decoded) once
// it is, on the other rendition after choosing it, and ended once the
// playlist has EXT-X-ENDLIST and playback reaches its end.
func TestWatchPageInChromium(t *testing.T) {
	chromium := testenv.NeedTool(t, "chromium")
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()

	const pid = "k3x9q2mb7fz1w8nd"
	streams := newStreamTable()
	var reqs requestLog
	srv := httptest.NewServer(reqs.wrap(NewLocal(streams, Options{
		Logger:       testenv.Logger(t),
		OfflineRetry: 300 * time.Millisecond,
	})))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	page := browser.Start(ctx, t, chromium)

	isTS := func(rendition string) func(loggedRequest) bool {
		return func(r loggedRequest) bool {
			return r.method == http.MethodGet && r.status == http.StatusOK &&
				strings.HasPrefix(r.path, "/hls/"+pid+"/"+rendition) && strings.HasSuffix(r.path, ".ts")
		}
	}
	state := func() pageState {
		t.Helper()
		s, err := chromedp.Run(page, chromedp.Evaluate[pageState](readPageState))
		if err != nil {
			t.Fatalf("read the page's state: %v", err)
		}
		return s
	}
	waitState := func(want string, timeout time.Duration) pageState {
		t.Helper()
		expr := `document.getElementById('player').dataset.state === ` + browser.JSString(want)
		_, err := chromedp.Run(page, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
		if err != nil {
			t.Fatalf("waiting for the page to show %q: %v; page: %+v", want, err, state())
		}
		return state()
	}

	// Not live: the page says so, and keeps asking.
	if err := chromedp.Do(page, chromedp.Navigate(srv.URL+"/watch/"+pid)); err != nil {
		t.Fatalf("open the watch page: %v", err)
	}
	s := waitState("offline", 10*time.Second)
	if !strings.Contains(s.Status, "Offline") {
		t.Errorf("offline status reads %q", s.Status)
	}
	masterChecks := func(r loggedRequest) bool {
		return r.path == "/hls/"+pid+"/live.m3u8" && r.status == http.StatusNotFound
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return reqs.count(0, masterChecks) >= 2 },
		"the offline page to check the master again")

	// Live: four segments and no ENDLIST.
	store := hlsmux.NewMemoryStore()
	f.publish(t, store, 4, false)
	streams.set(pid, store)
	s = waitState("playing", 15*time.Second)
	if s.Error != "" {
		t.Fatalf("hls.js reported a fatal error: %s", s.Error)
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { return reqs.count(0, isTS("")) >= 2 },
		"the player to fetch two fragments")
	_, err := chromedp.Run(page, chromedp.Poll[bool](`document.getElementById('video').currentTime > 0.5`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("waiting for the video to play half a second: %v; page: %+v", err, state())
	}
	s = state()
	if len(s.Options) != 3 || !strings.HasPrefix(s.Options[0], "Auto") || s.Options[1] != "180p" || s.Options[2] != "90p" {
		t.Fatalf("quality menu = %q, want Auto, 180p, 90p", s.Options)
	}

	// Choosing the rendition that Auto is not playing loads it.
	other, value := "90p", "0" // hls.js sorts levels by bitrate: 0 is 90p
	if s.Options[0] == "Auto (90p)" {
		other, value = "180p", "1"
	}
	before := reqs.len()
	err = chromedp.Do(page, chromedp.Evaluate[chromedp.Void](`(() => {
		const q = document.getElementById('quality');
		q.value = `+browser.JSString(value)+`;
		q.dispatchEvent(new Event('change'));
	})()`))
	if err != nil {
		t.Fatalf("choose %s: %v", other, err)
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { return reqs.count(before, isTS(other)) >= 1 },
		"a fragment of the chosen rendition "+other)

	// The stream ends: ENDLIST after six segments, and the page says so
	// once playback reaches the end.
	f.publish(t, store, fixtureSegments, true)
	s = waitState("ended", 20*time.Second)
	if s.Error != "" {
		t.Errorf("hls.js reported a fatal error: %s", s.Error)
	}
	if !strings.Contains(s.Status, "ended") {
		t.Errorf("ended status reads %q", s.Status)
	}
}
