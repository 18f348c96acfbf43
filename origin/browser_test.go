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
	w := startWatchTest(t, "k3x9q2mb7fz1w8nd")
	pid, reqs := w.pid, w.reqs

	isTS := func(rendition string) func(loggedRequest) bool {
		return func(r loggedRequest) bool {
			return r.method == http.MethodGet && r.status == http.StatusOK &&
				strings.HasPrefix(r.path, "/hls/"+pid+"/"+rendition) && strings.HasSuffix(r.path, ".ts")
		}
	}

	// Not live: the page says so, and keeps asking.
	w.open()
	s := w.waitState("offline", 10*time.Second)
	if !strings.Contains(s.Status, "Offline") {
		t.Errorf("offline status reads %q", s.Status)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return reqs.count(0, w.masterAnswered(http.StatusNotFound)) >= 2 },
		"the offline page to check the master again")

	// Live: four segments and no ENDLIST.
	store := hlsmux.NewMemoryStore()
	w.f.publish(t, store, 4, false)
	w.streams.set(pid, store)
	s = w.waitState("playing", 15*time.Second)
	if s.Error != "" {
		t.Fatalf("hls.js reported a fatal error: %s", s.Error)
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { return reqs.count(0, isTS("")) >= 2 },
		"the player to fetch two fragments")
	w.waitPlayback(0.5, 10*time.Second)
	s = w.state()
	if len(s.Options) != 3 || !strings.HasPrefix(s.Options[0], "Auto") || s.Options[1] != "180p" || s.Options[2] != "90p" {
		t.Fatalf("quality menu = %q, want Auto, 180p, 90p", s.Options)
	}

	// Choosing the rendition that Auto is not playing loads it.
	other, value := "90p", "0" // hls.js sorts levels by bitrate: 0 is 90p
	if s.Options[0] == "Auto (90p)" {
		other, value = "180p", "1"
	}
	before := reqs.len()
	w.eval(`(() => {
		const q = document.getElementById('quality');
		q.value = `+browser.JSString(value)+`;
		q.dispatchEvent(new Event('change'));
	})()`, "choose "+other)
	testenv.WaitFor(t, 10*time.Second, func() bool { return reqs.count(before, isTS(other)) >= 1 },
		"a fragment of the chosen rendition "+other)

	// The stream ends: ENDLIST after six segments, and the page says so
	// once playback reaches the end.
	w.f.publish(t, store, fixtureSegments, true)
	s = w.waitState("ended", 20*time.Second)
	if s.Error != "" {
		t.Errorf("hls.js reported a fatal error: %s", s.Error)
	}
	if !strings.Contains(s.Status, "ended") {
		t.Errorf("ended status reads %q", s.Status)
	}
}

// TestWatchPageComesBackAfterEnd is a creator who stops and publishes
// again: the page that played the stream to its end shows "ended", keeps
// showing it while the ended playlists stay (the grace period) and after
// they are gone, and plays the new stream of the same playback id as soon
// as it is live, without a reload.
func TestWatchPageComesBackAfterEnd(t *testing.T) {
	w := startWatchTest(t, "r7dq2kp9xw4mzb3c")
	pid, reqs := w.pid, w.reqs

	// Six segments live: hls.js starts three from the end, so playback
	// reaches the end soon after ENDLIST.
	first := hlsmux.NewMemoryStore()
	w.f.publishSession(t, first, fixtureFirstSeq, fixtureSegments, false)
	w.streams.set(pid, first)
	w.open()
	w.waitState("playing", 15*time.Second)
	w.waitPlayback(0.5, 10*time.Second)
	w.eval(`window.sameDocument = true`, "mark the document")

	// The publisher leaves: ENDLIST, and playback reaches the end.
	w.f.publishSession(t, first, fixtureFirstSeq, fixtureSegments, true)
	s := w.waitState("ended", 20*time.Second)
	if !strings.Contains(s.Status, "ended") {
		t.Errorf("ended status reads %q", s.Status)
	}

	// Grace period: the master still answers, its playlists end. The page
	// reads them and stays ended.
	since := reqs.len()
	renditionChecks := func(r loggedRequest) bool {
		return r.status == http.StatusOK && strings.HasPrefix(r.path, "/hls/"+pid+"/") &&
			strings.HasSuffix(r.path, "/index.m3u8")
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return reqs.count(since, renditionChecks) >= 2 },
		"the ended page to check the stream twice")
	if s := w.state(); s.State != "ended" {
		t.Fatalf("during the grace period the page shows %q (%s), want ended", s.State, s.Status)
	}

	// Forgotten after the grace period: 404, and still "ended".
	w.streams.set(pid, nil)
	since = reqs.len()
	testenv.WaitFor(t, 5*time.Second, func() bool { return reqs.count(since, w.masterAnswered(http.StatusNotFound)) >= 2 },
		"the ended page to check the master twice")
	if s := w.state(); s.State != "ended" {
		t.Fatalf("after the grace period the page shows %q (%s), want ended", s.State, s.Status)
	}

	// The creator publishes again: a new stream, numbered from its own
	// publish time as live.Manager numbers it.
	second := hlsmux.NewMemoryStore()
	w.f.publishSession(t, second, fixtureFirstSeq+600_000, 4, false)
	w.streams.set(pid, second)
	s = w.waitState("playing", 15*time.Second)
	if s.Status != "Live" || s.Error != "" {
		t.Errorf("back live, the page reads %q (error %q)", s.Status, s.Error)
	}
	w.waitPlayback(1, 10*time.Second)
	w.checkNoReload()
	if reqs.count(0, w.segmentFrom(fixtureFirstSeq+600_000)) == 0 {
		t.Error("the page played on without fetching the new stream's segments")
	}
	w.checkPublicRequests()
}

// TestWatchPageComesBackAfterOutage is a stream whose playlists go away
// mid-play (404: the server holding it died, or its route is gone): the
// page goes offline and checks again, but not while its tab is hidden;
// shown again, it checks at once and plays the stream, back meanwhile.
func TestWatchPageComesBackAfterOutage(t *testing.T) {
	w := startWatchTest(t, "m4c8z1tq6hw2vj9e")
	pid, reqs := w.pid, w.reqs

	store := hlsmux.NewMemoryStore()
	w.f.publishSession(t, store, fixtureFirstSeq, 4, false)
	w.streams.set(pid, store)
	w.open()
	w.waitState("playing", 15*time.Second)
	w.waitPlayback(0.5, 10*time.Second)
	w.eval(`window.sameDocument = true`, "mark the document")

	w.streams.set(pid, nil)
	s := w.waitState("offline", 15*time.Second)
	if !strings.HasPrefix(s.Error, "networkError") {
		t.Errorf("the page went offline after error %q, want hls.js's fatal network error", s.Error)
	}
	since := reqs.len()
	testenv.WaitFor(t, 5*time.Second, func() bool { return reqs.count(since, w.masterAnswered(http.StatusNotFound)) >= 2 },
		"the offline page to check the master twice")

	// Hidden, the page stops checking: the stream comes back and the page
	// does not know. Proving that nothing happens takes a while: a check is
	// due every 225–375 ms, so 1.5 s would see at least four.
	w.setVisibility("hidden")
	back := hlsmux.NewMemoryStore()
	w.f.publishSession(t, back, fixtureFirstSeq+600_000, 4, false)
	w.streams.set(pid, back)
	since = reqs.len() // a check in flight when the tab hid may still land
	quiet := time.NewTimer(5 * offlineRetry)
	<-quiet.C
	if n := reqs.count(since, w.masterAnswered(0)); n > 1 {
		t.Errorf("the hidden page checked the master %d times in %v", n, 5*offlineRetry)
	}
	if s := w.state(); s.State != "offline" {
		t.Fatalf("the hidden page shows %q, want offline", s.State)
	}

	// Shown again: it checks at once, and plays.
	w.setVisibility("visible")
	s = w.waitState("playing", 10*time.Second)
	if s.Status != "Live" || s.Error != "" {
		t.Errorf("back live, the page reads %q (error %q)", s.Status, s.Error)
	}
	w.waitPlayback(1, 10*time.Second)
	w.checkNoReload()
	if reqs.count(0, w.segmentFrom(fixtureFirstSeq+600_000)) == 0 {
		t.Error("the page played on without fetching the new stream's segments")
	}
	w.checkPublicRequests()
}

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
	chromium := testenv.NeedTool(t, "chromium")
	f := loadFixture(t)
	t.Cleanup(testenv.CheckGoroutines(t)) // first registered, so it runs last
	w := &watchTest{t: t, f: f, pid: pid, streams: newStreamTable(), reqs: &requestLog{}}
	w.srv = httptest.NewServer(w.reqs.wrap(NewLocal(w.streams, Options{
		Logger:       testenv.Logger(t),
		OfflineRetry: offlineRetry,
	})))
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
