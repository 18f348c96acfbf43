package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestRedisEndRoute: an ended route stays for its TTL, marked ended, so
// that origins still reach the ended playlists; it never blocks a new
// stream of the channel, on any server; a late EndRoute of an older stream
// leaves a newer stream's route alone.
func TestRedisEndRoute(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	c, _, err := s.Create(ctx, "ends")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PlaybackID
	rk := redisRouteKey(pid)
	t0 := time.Date(2026, 11, 25, 12, 0, 5, 0, time.UTC)
	a := Route{PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:8081", Since: t0}
	route := func() Route {
		t.Helper()
		r, err := s.Route(ctx, pid)
		if err != nil {
			t.Fatalf("Route: %v", err)
		}
		return r
	}
	end := func(r Route, ttl time.Duration, want bool) {
		t.Helper()
		if ended, err := s.EndRoute(ctx, r, ttl); err != nil || ended != want {
			t.Fatalf("EndRoute(%s since %v) = %v, %v; want %v", r.Server, r.Since, ended, err, want)
		}
	}

	// The stream ends: its route stays, ended, for the grace given.
	if err := s.SetRoute(ctx, a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := route(); r.Ended {
		t.Errorf("a live route reads as ended: %+v", r)
	}
	end(a, time.Minute, true)
	if r := route(); !r.Ended || r.Server != "srv-a" || r.Addr != a.Addr || !r.Since.Equal(t0) {
		t.Errorf("after EndRoute, Route = %+v; want srv-a's, ended", r)
	}
	if ttl := s.rdb.PTTL(ctx, rk).Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Errorf("PTTL of the ended route = %v, want the minute EndRoute gave", ttl)
	}

	// A new stream on another server takes the ended route at once, even
	// with a Since before the old one's (its clock is behind): a live
	// route would refuse it.
	b := Route{PlaybackID: pid, Server: "srv-b", Addr: "10.0.0.2:8081", Since: t0.Add(-time.Second)}
	if err := s.SetRoute(ctx, b, 10*time.Second); err != nil {
		t.Fatalf("SetRoute of a new stream over an ended route: %v", err)
	}
	if r := route(); r.Ended || r.Server != "srv-b" {
		t.Errorf("after the new stream's SetRoute, Route = %+v; want srv-b's, live", r)
	}
	if err := s.SetRoute(ctx, Route{PlaybackID: pid, Server: "srv-c", Addr: "10.0.0.3:8081", Since: t0.Add(-2 * time.Second)}, time.Second); !errors.Is(err, ErrRouteTaken) {
		t.Errorf("SetRoute of an older stream over srv-b's live route: %v, want ErrRouteTaken", err)
	}

	// srv-a's late EndRoute of its old stream, and an EndRoute of another
	// server's stream of the same Since, leave srv-b's live route alone.
	b.Since = t0.Add(time.Second)
	if err := s.SetRoute(ctx, b, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	end(a, time.Minute, false)
	end(Route{PlaybackID: pid, Server: "srv-c", Addr: "10.0.0.3:8081", Since: b.Since}, time.Minute, false)
	if r := route(); r.Ended || r.Server != "srv-b" {
		t.Errorf("after late EndRoutes, Route = %+v; want srv-b's, live", r)
	}

	// The same server's next stream replaces its ended route.
	end(b, time.Minute, true)
	b2 := b
	b2.Since = b.Since.Add(time.Minute)
	if err := s.SetRoute(ctx, b2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := route(); r.Ended || !r.Since.Equal(b2.Since) {
		t.Errorf("after srv-b's next stream, Route = %+v; want it live since %v", r, b2.Since)
	}

	// A stream whose route expired meanwhile (Redis was away) still gets
	// an ended one, and that expires after its TTL.
	if err := s.rdb.Del(ctx, rk).Err(); err != nil {
		t.Fatal(err)
	}
	end(b2, 300*time.Millisecond, true)
	if r := route(); !r.Ended {
		t.Errorf("EndRoute of a missing route: Route = %+v, want ended", r)
	}
	testenv.WaitFor(t, 3*time.Second, func() bool {
		_, err := s.Route(ctx, pid)
		return errors.Is(err, ErrNoRoute)
	}, "the ended route to expire")

	// Refused arguments.
	for name, bad := range map[string]Route{
		"no since": {PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:8081"},
		"no addr":  {PlaybackID: pid, Server: "srv-a", Since: t0},
	} {
		if _, err := s.EndRoute(ctx, bad, time.Minute); err == nil {
			t.Errorf("EndRoute with %s succeeded", name)
		}
	}
	if _, err := s.EndRoute(ctx, a, 0); err == nil {
		t.Errorf("EndRoute without a TTL succeeded")
	}
}
