package origin

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestClusterStaleRoutes: while the Router fails (hangs, then refuses),
// streams already routed keep their server: every viewer request is
// answered, none waits for the Router after its first failure, and the
// Router is asked again in the background. A Router that answers again
// but has no route yet keeps the stale route; one that names the server
// confirms it. A stale route ends when its server answers 404 for a
// playlist or cannot be reached, and then the stream is 503 (or 404).
func TestClusterStaleRoutes(t *testing.T) {
	f := loadFixture(t)
	defer testenv.CheckGoroutines(t)()
	up := newUpstream(t, f, 4, false)
	other := newUpstream(t, f, 4, false)
	other.streams.set(otherPID, other.store)
	defer other.srv.Close()
	const ttl, timeout = 200 * time.Millisecond, time.Second
	e := newClusterEnv(t, up, ClusterOptions{routeTTL: ttl, routeTimeout: timeout})
	defer e.close()
	e.router.set(otherPID, other.addr())
	playlist := func(pid string) string { return e.srv.URL + "/hls/" + pid + "/180p/index.m3u8" }

	// watch asks for both streams' playlists until done says so, and
	// fails on any answer but 200; it returns the longest wait, and how
	// many requests waited longer than half a stale lookup's timeout.
	watch := func(what string, done func(ClusterStats) bool) (longest time.Duration, slow int) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, func() bool {
			for _, pid := range []string{testPID, otherPID} {
				start := time.Now()
				resp, _ := do(t, "GET", playlist(pid), nil)
				d := time.Since(start)
				longest = max(longest, d)
				if d > timeout/8 {
					slow++
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %s answered %d, want 200", what, pid, resp.StatusCode)
				}
			}
			return done(e.c.Stats())
		}, what)
		return longest, slow
	}
	watch("both streams routed", func(s ClusterStats) bool { return s.RouteLookups == 2 })

	// The registry hangs: the first lookup waits for its timeout, then
	// both streams keep their server, stale, without waiting for another;
	// the next lookups run in the background while viewers are served at
	// once.
	e.router.hangs(true)
	if d, slow := watch("both routes stale", func(s ClusterStats) bool { return s.StaleRoutes == 2 }); d > timeout/4+300*time.Millisecond || slow != 1 {
		t.Errorf("with the registry hanging, %d viewer requests waited, the longest %v; want one, for a quarter of a lookup's timeout", slow, d)
	}
	lookups := e.c.Stats().RouteLookups
	if d, _ := watch("background lookups", func(s ClusterStats) bool { return s.RouteLookups >= lookups+2 }); d > 150*time.Millisecond {
		t.Errorf("a viewer of a stale route waited %v for the registry", d)
	}

	// The registry refuses connections, then answers without a route
	// (the server has not set it again yet): still stale, still served.
	e.router.hangs(false)
	e.router.fail(errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"))
	lookups = e.c.Stats().RouteLookups
	watch("lookups failing at once", func(s ClusterStats) bool { return s.RouteLookups >= lookups+2 && s.StaleRoutes == 2 })
	e.router.fail(nil)
	e.router.set(testPID, "")
	lookups = e.c.Stats().RouteLookups
	watch("lookups finding no route", func(s ClusterStats) bool { return s.RouteLookups >= lookups+2 && s.StaleRoutes == 1 })
	if s := e.c.Stats(); s.StaleRouteUses == 0 {
		t.Errorf("stats %+v: no stale route use counted", s)
	}

	// otherPID's route was confirmed meanwhile; testPID's server sets its
	// route again: confirmed, no longer stale.
	e.router.set(testPID, up.addr())
	watch("the routes confirmed", func(s ClusterStats) bool { return s.StaleRoutes == 0 })

	// Stale again; then testPID's server no longer has the stream (404)
	// and otherPID's is gone (connection refused): both routes end.
	e.router.fail(errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"))
	watch("both routes stale again", func(s ClusterStats) bool { return s.StaleRoutes == 2 })
	up.streams.set(testPID, nil)
	other.srv.Close()
	for _, c := range []struct {
		pid  string
		want int
	}{{testPID, http.StatusNotFound}, {otherPID, http.StatusServiceUnavailable}} {
		testenv.WaitFor(t, 5*time.Second, func() bool {
			resp, _ := do(t, "GET", playlist(c.pid), nil)
			return resp.StatusCode == c.want
		}, c.pid+"'s server to end its stale route")
	}
	if s := e.c.Stats(); s.StaleRoutes != 0 {
		t.Errorf("stats %+v: want no stale route left", s)
	}
	// With nothing to fall back on, the failing registry is a 503.
	testenv.WaitFor(t, 3*time.Second, func() bool {
		resp, _ := do(t, "GET", playlist(testPID), nil)
		return resp.StatusCode == http.StatusServiceUnavailable
	}, "503 once the 404 is no longer cached")
}
