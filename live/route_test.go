package live

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// routeCall is one call to recordingRoutes.
type routeCall struct {
	set      bool // SetRoute; else EndRoute
	pid      string
	since    time.Time
	ttl      time.Duration
	at       time.Time      // when the call was made
	segments map[string]int // segments listed per rendition at the call
}

// recordingRoutes records the calls of a stream's announcer, with what the
// stream's playlists held at each (when m is set).
type recordingRoutes struct {
	m        *Manager
	failSets int // the first failSets SetRoute calls fail
	mu       sync.Mutex
	calls    []routeCall
}

func (r *recordingRoutes) note(set bool, pid string, since time.Time, ttl time.Duration) int {
	c := routeCall{set: set, pid: pid, since: since, ttl: ttl, at: time.Now(), segments: map[string]int{}}
	if r.m != nil {
		if st, ok := r.m.Lookup(pid); ok {
			for _, name := range []string{"180p", "360p"} {
				if pl, err := st.Get(name + "/index.m3u8"); err == nil {
					c.segments[name] = len(segLine.FindAll(pl, -1))
				}
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return len(r.calls)
}

func (r *recordingRoutes) SetRoute(_ context.Context, pid string, since time.Time, ttl time.Duration) error {
	if n := r.note(true, pid, since, ttl); n <= r.failSets {
		return errors.New("registry down")
	}
	return nil
}

func (r *recordingRoutes) EndRoute(_ context.Context, pid string, since time.Time) error {
	r.note(false, pid, since, 0)
	return nil
}

func (r *recordingRoutes) recorded() []routeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// TestRouteFollowsTheStream: the route is set once every rendition has a
// segment, refreshed within its TTL while the stream is live (also after a
// registry failure), and marked ended, with the stream's Since, once the
// playlists are ended; never set again after.
func TestRouteFollowsTheStream(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.Pipeline.Ladder = twoRenditions // the route waits for both
	cfg.RouteTTL = 300 * time.Millisecond
	routes := &recordingRoutes{failSets: 1}
	cfg.Routes = routes
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	routes.m = m
	ch := channel(1)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	video, audio, packets := source(t)
	publishRealTime(t, s, video, audio, packets)

	calls := routes.recorded()
	if len(calls) < 4 {
		t.Fatalf("want the route set, refreshed and ended over a 5 s stream with a 300 ms TTL; calls: %+v", calls)
	}
	for i, c := range calls {
		if c.pid != ch.PlaybackID || !c.since.Equal(calls[0].since) || c.since.IsZero() {
			t.Errorf("call %d names %q since %v, want %q since %v as the first", i, c.pid, c.since, ch.PlaybackID, calls[0].since)
		}
		if c.set && (c.ttl != cfg.RouteTTL || c.segments["180p"] == 0 || c.segments["360p"] == 0) {
			t.Errorf("call %d: SetRoute with ttl %v while the renditions listed %v segments: want %v, every rendition listed", i, c.ttl, c.segments, cfg.RouteTTL)
		}
		if last := i == len(calls)-1; last == c.set {
			t.Errorf("call %d (set=%v): want SetRoute calls, then one EndRoute last", i, c.set)
		}
	}
	// A live stream of 5 s with a 300 ms TTL refreshes about every 100 ms.
	if sets := len(calls) - 1; sets < 10 {
		t.Errorf("route set %d times during the stream: not refreshed within its TTL", sets)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRouteNotSetBeforeASegment: a stream that ends before listing any
// segment live never gets a route, and its end calls nothing.
func TestRouteNotSetBeforeASegment(t *testing.T) {
	cfg := testConfig(t)
	routes := &recordingRoutes{}
	cfg.Routes = routes
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	routes.m = m
	s, err := m.Publish(channel(2), "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	video, audio, packets := source(t)
	if err := s.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets[:10] { // well under one segment
		if err := s.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	s.End(nil)
	if calls := routes.recorded(); len(calls) != 0 {
		t.Errorf("a stream with no live segment called Routes: %+v", calls)
	}
}

// TestRouteRetriesSoonWhileFailing: a route that cannot be set is tried
// again every routeRetry rather than every third of its TTL, so that a
// registry coming back finds it within about a second; once set, it is
// refreshed at its usual pace; its end is told with its Since.
func TestRouteRetriesSoonWhileFailing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 30 * time.Second
		since := time.Now().Add(-time.Minute)
		routes := &recordingRoutes{failSets: 3}
		a := &announcer{routes: routes, pid: "abcdefghij012345", since: since, ttl: ttl, want: 2, log: testenv.Logger(t)}
		a.segment("360p")
		synctest.Wait()
		if calls := routes.recorded(); len(calls) != 0 {
			t.Fatalf("route set before every rendition listed a segment: %+v", calls)
		}
		start := time.Now()
		a.segment("720p")
		time.Sleep(25 * time.Second)
		synctest.Wait()
		a.end()
		calls := routes.recorded()
		// Three failures a second apart, the success at 3 s, its refresh
		// a third of the TTL later, at 13 s, and again at 23 s; the end.
		want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 13 * time.Second, 23 * time.Second, 25 * time.Second}
		if len(calls) != len(want) {
			t.Fatalf("%d calls, want %d: %+v", len(calls), len(want), calls)
		}
		for i, c := range calls {
			if at := c.at.Sub(start); at != want[i] || c.set != (i < len(want)-1) || !c.since.Equal(since) {
				t.Errorf("call %d (set=%v, since %v) at %v; want at %v, since %v", i, c.set, c.since, at, want[i], since)
			}
		}
	})
}

// TestMaxStreams: beyond MaxStreams live streams, Publish fails with
// ErrOverCapacity; an ended stream frees its place.
func TestMaxStreams(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxStreams = 1
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Publish(channel(1), "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Publish(channel(2), "127.0.0.1:5001", nil); !errors.Is(err, ErrOverCapacity) {
		t.Fatalf("second publish with MaxStreams 1: err = %v, want ErrOverCapacity", err)
	}
	if n := m.LiveCount(); n != 1 {
		t.Errorf("LiveCount = %d, want 1", n)
	}
	s.End(nil)
	s2, err := m.Publish(channel(2), "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatalf("publish after the first stream ended: %v", err)
	}
	s2.End(nil)
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
