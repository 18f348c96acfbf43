package origin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
)

// browserTimeout bounds each browser test: start, offline, playing, a
// quality switch and the end of the stream take about 10 s.
const browserTimeout = 40 * time.Second

// requestLog records the requests a server answered, so the test learns
// what the player fetched without any test code in the page.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct {
	method, path, query string
	status              int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{r.Method, r.URL.Path, r.URL.RawQuery, sw.status})
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

// offlineRetry is the watch pages' OfflineRetry in the browser tests:
// short, so that coming back takes a fraction of a second.
const offlineRetry = 300 * time.Millisecond

// watchTest is a watch page open in headless Chromium, on an origin
// serving whatever the test puts in streams.
type watchTest struct {
	t       *testing.T
	f       *hlsFixture
	pid     string
	streams *streamTable
	reqs    *requestLog
	srv     *httptest.Server
	page    context.Context
}

// startWatchTest starts the origin and the browser; the test's cleanup
// closes both and checks that no goroutine is left. It skips without
// Chromium.
func startWatchTest(t *testing.T, pid string) *watchTest {
	t.Helper()
	return startWatchTestRouted(t, pid, func(origin http.Handler) http.Handler { return origin })
}

// startWatchTestRouted is startWatchTest with the origin's handler wrapped
// by route: a test serves some paths itself (a stream the origin cannot
// write yet), and passes the rest to the origin.
func startWatchTestRouted(t *testing.T, pid string, route func(origin http.Handler) http.Handler) *watchTest {
	t.Helper()
	chromium := testenv.NeedTool(t, "chromium")
	f := loadFixture(t)
	t.Cleanup(testenv.CheckGoroutines(t)) // first registered, so it runs last
	w := &watchTest{t: t, f: f, pid: pid, streams: newStreamTable(), reqs: &requestLog{}}
	w.srv = httptest.NewServer(w.reqs.wrap(route(NewLocal(w.streams, Options{
		Logger:       testenv.Logger(t),
		OfflineRetry: offlineRetry,
	}))))
	t.Cleanup(w.srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	w.page = browser.Start(ctx, t, chromium)
	return w
}

// open navigates to the watch page.
func (w *watchTest) open() {
	w.t.Helper()
	if err := chromedp.Do(w.page, chromedp.Navigate(w.srv.URL+"/watch/"+w.pid)); err != nil {
		w.t.Fatalf("open the watch page: %v", err)
	}
}

func (w *watchTest) eval(expr, what string) {
	w.t.Helper()
	if err := chromedp.Do(w.page, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
		w.t.Fatalf("%s: %v", what, err)
	}
}

func (w *watchTest) state() pageState {
	w.t.Helper()
	s, err := chromedp.Run(w.page, chromedp.Evaluate[pageState](readPageState))
	if err != nil {
		w.t.Fatalf("read the page's state: %v", err)
	}
	return s
}

// poll waits until expr is true in the page.
func (w *watchTest) poll(expr, what string, timeout time.Duration) {
	w.t.Helper()
	_, err := chromedp.Run(w.page, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		w.t.Fatalf("waiting for %s: %v; page: %+v", what, err, w.state())
	}
}

// waitState waits until the page shows want, and returns its state then.
func (w *watchTest) waitState(want string, timeout time.Duration) pageState {
	w.t.Helper()
	w.poll(`document.getElementById('player').dataset.state === `+browser.JSString(want),
		fmt.Sprintf("the page to show %q", want), timeout)
	return w.state()
}

// waitPlayback waits until the video has played secs more than it has now.
func (w *watchTest) waitPlayback(secs float64, timeout time.Duration) {
	w.t.Helper()
	from := w.state().CurrentTime
	w.poll(fmt.Sprintf(`document.getElementById('video').currentTime > %g`, from+secs),
		fmt.Sprintf("the video to play %g s from %.2f s", secs, from), timeout)
}

// setVisibility makes the page's document.visibilityState read state, as
// a browser does when its tab is hidden or shown, and tells the page.
// Headless Chromium has no window to hide.
func (w *watchTest) setVisibility(state string) {
	w.t.Helper()
	w.eval(`(() => {
		Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => `+browser.JSString(state)+`});
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => `+browser.JSString(state)+` === 'hidden'});
		document.dispatchEvent(new Event('visibilitychange'));
	})()`, "make the page "+state)
}

// checkNoReload fails the test if the page was loaded again: the browser
// asked for it twice, or lost what the test set in its window.
func (w *watchTest) checkNoReload() {
	w.t.Helper()
	if n := w.reqs.count(0, func(r loggedRequest) bool { return r.path == "/watch/"+w.pid }); n != 1 {
		w.t.Errorf("the browser loaded the watch page %d times, want once", n)
	}
	same, err := chromedp.Run(w.page, chromedp.Evaluate[bool](`window.sameDocument === true`))
	if err != nil || !same {
		w.t.Errorf("the page was reloaded (err %v)", err)
	}
}

// masterAnswered matches requests for the master that got status, or any
// status when it is 0.
func (w *watchTest) masterAnswered(status int) func(loggedRequest) bool {
	return func(r loggedRequest) bool {
		return r.path == "/hls/"+w.pid+"/"+masterName && (status == 0 || r.status == status)
	}
}

// segmentFrom matches the successful requests for a segment numbered
// first or above: one of a stream published after the first.
func (w *watchTest) segmentFrom(first int64) func(loggedRequest) bool {
	return func(r loggedRequest) bool {
		rest, ok := strings.CutPrefix(r.path, "/hls/"+w.pid+"/")
		if !ok || r.status != http.StatusOK {
			return false
		}
		_, file, _ := strings.Cut(rest, "/")
		seq, err := strconv.ParseInt(strings.TrimSuffix(file, ".ts"), 10, 64)
		return err == nil && strings.HasSuffix(file, ".ts") && seq >= first
	}
}

// checkPublicRequests fails the test if the page asked for anything but
// itself, its assets and the playback id's HLS: what a viewer's browser
// asks for is public, and names no secret.
func (w *watchTest) checkPublicRequests() {
	w.t.Helper()
	w.reqs.mu.Lock()
	defer w.reqs.mu.Unlock()
	for _, r := range w.reqs.reqs {
		if r.path != "/watch/"+w.pid && !strings.HasPrefix(r.path, "/static/") && !strings.HasPrefix(r.path, "/hls/"+w.pid+"/") {
			w.t.Errorf("the page asked for %s %s", r.method, r.path)
		}
	}
}

// publishSession is publish for a stream whose segments are numbered from
// firstSeq: a stream that comes back is numbered from its new publish time.
func (f *hlsFixture) publishSession(t testing.TB, store hlsmux.Store, firstSeq int64, n int, ended bool) {
	t.Helper()
	put := func(name string, data []byte) {
		if err := store.Put(name, data); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	for _, r := range f.renditions {
		pl := &hlsmux.MediaPlaylist{Type: hlsmux.Live, TargetDuration: time.Second}
		for i, s := range r.segments[:n] {
			seq := firstSeq + int64(i)
			name := strconv.FormatInt(seq, 10) + ".ts"
			put(r.name+"/"+name, s.data)
			pl.Append(hlsmux.SegmentInfo{Seq: seq, Name: name, Duration: s.duration, Size: len(s.data)})
		}
		if ended {
			pl.End()
		}
		put(r.name+"/index.m3u8", pl.Encode())
	}
	put(masterName, f.master())
}
