package live

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// routeCall is one call to recordingRoutes.
type routeCall struct {
	set      bool // SetRoute; else RemoveRoute
	pid      string
	ttl      time.Duration
	segments map[string]int // segments listed per rendition at the call
}

// recordingRoutes records the calls of a stream's announcer, with what the
// stream's playlists held at each.
type recordingRoutes struct {
	m        *Manager
	failSets int // the first failSets SetRoute calls fail
	mu       sync.Mutex
	calls    []routeCall
}

func (r *recordingRoutes) note(set bool, pid string, ttl time.Duration) int {
	c := routeCall{set: set, pid: pid, ttl: ttl, segments: map[string]int{}}
	if st, ok := r.m.Lookup(pid); ok {
		for _, name := range []string{"180p", "360p"} {
			if pl, err := st.Get(name + "/index.m3u8"); err == nil {
				c.segments[name] = len(segLine.FindAll(pl, -1))
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return len(r.calls)
}

func (r *recordingRoutes) SetRoute(_ context.Context, pid string, _ time.Time, ttl time.Duration) error {
	if n := r.note(true, pid, ttl); n <= r.failSets {
		return errors.New("registry down")
	}
	return nil
}

func (r *recordingRoutes) RemoveRoute(_ context.Context, pid string) error {
	r.note(false, pid, 0)
	return nil
}

// TestRouteFollowsTheStream: the route is set once every rendition has a
// segment, refreshed within its TTL while the stream is live (also after a
// registry failure), and removed once the playlists are ended; never set
// again after.
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

	routes.mu.Lock()
	calls := routes.calls
	routes.mu.Unlock()
	if len(calls) < 4 {
		t.Fatalf("want the route set, refreshed and removed over a 5 s stream with a 300 ms TTL; calls: %+v", calls)
	}
	for i, c := range calls {
		if c.pid != ch.PlaybackID {
			t.Errorf("call %d names %q, want %q", i, c.pid, ch.PlaybackID)
		}
		if c.set && (c.ttl != cfg.RouteTTL || c.segments["180p"] == 0 || c.segments["360p"] == 0) {
			t.Errorf("call %d: SetRoute with ttl %v while the renditions listed %v segments: want %v, every rendition listed", i, c.ttl, c.segments, cfg.RouteTTL)
		}
		if last := i == len(calls)-1; last == c.set {
			t.Errorf("call %d (set=%v): want SetRoute calls, then one RemoveRoute last", i, c.set)
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
	routes.mu.Lock()
	defer routes.mu.Unlock()
	if len(routes.calls) != 0 {
		t.Errorf("a stream with no live segment called Routes: %+v", routes.calls)
	}
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
