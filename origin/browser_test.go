package origin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
)

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
