package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisSetRouteRace hammers one route from two servers at once, each
// through its own connections: srv-new for a stream that started 1 ms
// after srv-old's. srv-new is never refused, srv-old always is once
// srv-new's route is stored, and a watcher never sees srv-old again after
// it has seen srv-new. (With a read, then a SET, srv-old's write lands
// between srv-new's and the watcher's reads.)
func TestRedisSetRouteRace(t *testing.T) {
	ctx := context.Background()
	s, url := openRedisTemp(t)
	c, _, err := s.Create(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PlaybackID
	old := Route{PlaybackID: pid, Server: "srv-old", Addr: "10.0.0.1:8081", Since: time.Now().Add(-time.Hour)}
	cur := Route{PlaybackID: pid, Server: "srv-new", Addr: "10.0.0.2:8081", Since: old.Since.Add(time.Millisecond)}
	oldStore, newStore, watcher := openRedisURL(t, url), openRedisURL(t, url), openRedisURL(t, url)

	const workers, calls = 4, 150
	var (
		wg         sync.WaitGroup
		newStored  atomic.Bool // srv-new's SetRoute returned nil at least once
		oldRefused atomic.Int64
		done       = make(chan struct{})
	)
	for range workers {
		wg.Go(func() {
			for range calls {
				if err := newStore.SetRoute(ctx, cur, time.Minute); err != nil {
					t.Errorf("srv-new's SetRoute: %v", err)
					return
				}
				newStored.Store(true)
			}
		})
		wg.Go(func() {
			for range calls {
				after := newStored.Load()
				err := oldStore.SetRoute(ctx, old, time.Minute)
				switch {
				case errors.Is(err, ErrRouteTaken):
					oldRefused.Add(1)
				case err != nil:
					t.Errorf("srv-old's SetRoute: %v", err)
					return
				case after:
					t.Errorf("srv-old's SetRoute succeeded after srv-new's had")
					return
				}
			}
		})
	}
	var watchErr error
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		seenNew := false
		for {
			select {
			case <-done:
				return
			default:
			}
			r, err := watcher.Route(ctx, pid)
			switch {
			case errors.Is(err, ErrNoRoute):
			case err != nil:
				watchErr = err
				return
			case r.Server == "srv-new":
				seenNew = true
			case seenNew:
				watchErr = fmt.Errorf("the route went back to %s after srv-new held it", r.Server)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	<-watched
	if watchErr != nil {
		t.Error(watchErr)
	}
	if oldRefused.Load() == 0 {
		t.Errorf("srv-old was never refused in %d calls", workers*calls)
	}
	if r, err := s.Route(ctx, pid); err != nil || r.Server != "srv-new" || !r.Since.Equal(cur.Since) {
		t.Errorf("after the race, Route = %+v, %v; want srv-new's", r, err)
	}
}

// TestRedisSetRouteRules: who may replace whose route, the TTL, and the
// refusal's fields.
func TestRedisSetRouteRules(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	c, key, err := s.Create(ctx, "rules")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PlaybackID
	rk := redisRouteKey(pid)
	t0 := time.Date(2026, 11, 25, 12, 0, 5, 0, time.UTC)
	a := Route{PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:8081", Since: t0}
	b := Route{PlaybackID: pid, Server: "srv-b", Addr: "10.0.0.2:8081", Since: t0}
	set := func(r Route, ttl time.Duration) {
		t.Helper()
		if err := s.SetRoute(ctx, r, ttl); err != nil {
			t.Fatalf("SetRoute(%s since %v): %v", r.Server, r.Since, err)
		}
	}
	holder := func() string {
		t.Helper()
		r, err := s.Route(ctx, pid)
		if err != nil {
			t.Fatalf("Route: %v", err)
		}
		return r.Server
	}

	// The TTL is set in milliseconds, and each refresh sets it again.
	set(a, 1500*time.Millisecond)
	if ttl := s.rdb.PTTL(ctx, rk).Val(); ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Errorf("PTTL after SetRoute with 1.5s = %v", ttl)
	}
	set(a, time.Minute)
	if ttl := s.rdb.PTTL(ctx, rk).Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Errorf("PTTL after a refresh with 1m = %v", ttl)
	}

	// The same server refreshes, even with another Since (a new stream of
	// the channel on the same server); an equal Since elsewhere replaces.
	set(Route{PlaybackID: pid, Server: "srv-a", Addr: a.Addr, Since: t0.Add(-time.Hour)}, time.Minute)
	set(a, time.Minute)
	set(b, time.Minute)
	if h := holder(); h != "srv-b" {
		t.Errorf("after srv-b's SetRoute with an equal Since, the route is %s's", h)
	}

	// A newer stream replaces an older one by a nanosecond, whose own
	// refresh is then refused without changing the route or its TTL.
	newer := a
	newer.Since = t0.Add(time.Nanosecond)
	set(newer, time.Minute)
	if h := holder(); h != "srv-a" {
		t.Fatalf("after a newer stream's SetRoute, the route is %s's", h)
	}
	err = s.SetRoute(ctx, b, 2*time.Second)
	var taken *RouteTakenError
	if !errors.Is(err, ErrRouteTaken) || !errors.As(err, &taken) {
		t.Fatalf("SetRoute of the older stream: %v, want a *RouteTakenError", err)
	}
	if taken.PlaybackID != pid || taken.Server != "srv-a" || !taken.Since.Equal(newer.Since) {
		t.Errorf("RouteTakenError = %+v; want srv-a's since %v", taken, newer.Since)
	}
	if msg := err.Error(); !strings.Contains(msg, `"srv-a"`) || !strings.Contains(msg, pid) || strings.Contains(msg, key) {
		t.Errorf("refusal %q: want the holder and the playback id named, never the key", msg)
	}
	if h := holder(); h != "srv-a" {
		t.Errorf("after a refused SetRoute, the route is %s's", h)
	}
	if ttl := s.rdb.PTTL(ctx, rk).Val(); ttl <= 50*time.Second {
		t.Errorf("a refused SetRoute changed the TTL to %v", ttl)
	}
	if err := s.SetRoute(ctx, Route{PlaybackID: pid, Server: "srv-b", Addr: b.Addr, Since: t0.Add(time.Second)}, time.Minute); err != nil {
		t.Errorf("a newer stream on srv-b: %v", err)
	}

	// A Since in another zone compares as the same instant.
	east := time.FixedZone("UTC+2", 2*60*60)
	if err := s.SetRoute(ctx, Route{PlaybackID: pid, Server: "srv-c", Addr: a.Addr, Since: t0.Add(time.Second - time.Nanosecond).In(east)}, time.Minute); !errors.Is(err, ErrRouteTaken) {
		t.Errorf("an older Since in UTC+2: %v, want ErrRouteTaken", err)
	}
}

// TestRedisSetRouteStoredSince: Sinces as Redis holds them compare in time
// order, whatever the length of their fraction (JSON drops its trailing
// zeros), and a route SetRoute could not have written is replaced.
func TestRedisSetRouteStoredSince(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	c, _, err := s.Create(ctx, "stored")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PlaybackID
	ours := Route{PlaybackID: pid, Server: "srv-b", Addr: "10.0.0.2:8081", Since: time.Date(2026, 11, 25, 12, 0, 5, 100_000_000, time.UTC)}
	stored := func(server, since string) string {
		return fmt.Sprintf(`{"playback_id":%q,"server":%q,"addr":"10.0.0.1:8081","since":%q}`, pid, server, since)
	}
	for _, tc := range []struct {
		name, value string
		refused     bool
	}{
		{"whole second before", stored("srv-a", "2026-11-25T12:00:05Z"), false},
		{"shorter fraction after", stored("srv-a", "2026-11-25T12:00:05.2Z"), true},
		{"longer fraction before", stored("srv-a", "2026-11-25T12:00:05.099999999Z"), false},
		{"equal, other length", stored("srv-a", "2026-11-25T12:00:05.100Z"), false},
		{"one ns after", stored("srv-a", "2026-11-25T12:00:05.100000001Z"), true},
		{"next year", stored("srv-a", "2027-01-01T00:00:00Z"), true},
		{"year before", stored("srv-a", "2025-12-31T23:59:59.999999999Z"), false},
		{"ours, later", stored("srv-b", "2027-01-01T00:00:00Z"), false},
		{"not UTC", stored("srv-a", "2026-11-25T14:00:06+02:00"), false},
		{"ten digits", stored("srv-a", "2026-11-25T12:00:06.1234567890Z"), false},
		{"no dot", stored("srv-a", "2026-11-25T12:00:0612Z"), false},
		{"since a number", fmt.Sprintf(`{"playback_id":%q,"server":"srv-a","since":1e30}`, pid), false},
		{"server a number", fmt.Sprintf(`{"playback_id":%q,"server":7,"since":"2027-01-01T00:00:00Z"}`, pid), false},
		{"not JSON", "{", false},
		{"a JSON string", `"2027"`, false},
	} {
		if err := s.rdb.Set(ctx, redisRouteKey(pid), tc.value, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		err := s.SetRoute(ctx, ours, time.Minute)
		if got := errors.Is(err, ErrRouteTaken); got != tc.refused || (err != nil && !got) {
			t.Errorf("%s: SetRoute over %s: %v; want refused %v", tc.name, tc.value, err, tc.refused)
			continue
		}
		v := s.rdb.Get(ctx, redisRouteKey(pid)).Val()
		if tc.refused != (v == tc.value) {
			t.Errorf("%s: after SetRoute (refused %v), Redis holds %s", tc.name, tc.refused, v)
		}
	}
}

// FuzzSetRouteOrder checks the Lua script's order of Sinces against Go's
// for every pair of instants a Route can hold: srv-b's route replaces
// srv-a's stored one unless srv-a's started later, and the refusal gives
// srv-a's Since back exactly.
func FuzzSetRouteOrder(f *testing.F) {
	base := time.Date(2026, 11, 25, 12, 0, 5, 0, time.UTC).UnixNano()
	for _, seed := range []struct{ a, delta int64 }{
		{base, 0}, {base, 1}, {base, -1}, {base, 100_000_000}, {base, -100_000_000},
		{base + 999_999_999, 1}, {0, -1}, {-1, 1}, {base, int64(time.Hour)},
	} {
		f.Add(seed.a, seed.delta)
	}
	ctx := context.Background()
	s, _ := openRedisTemp(f)
	c, _, err := s.Create(ctx, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	pid := c.PlaybackID
	f.Fuzz(func(t *testing.T, a, delta int64) {
		since := time.Unix(0, a).UTC()
		ours := since.Add(time.Duration(delta))
		if delta > 0 && ours.Before(since) || delta < 0 && ours.After(since) {
			return // overflow
		}
		if err := s.rdb.Del(ctx, redisRouteKey(pid)).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoute(ctx, Route{PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:8081", Since: since}, time.Minute); err != nil {
			t.Fatal(err)
		}
		err := s.SetRoute(ctx, Route{PlaybackID: pid, Server: "srv-b", Addr: "10.0.0.2:8081", Since: ours}, time.Minute)
		var taken *RouteTakenError
		switch refused := errors.As(err, &taken); {
		case err != nil && !refused:
			t.Fatal(err)
		case refused != since.After(ours):
			t.Fatalf("srv-a since %v, srv-b since %v: refused %v", since, ours, refused)
		case refused && (taken.Server != "srv-a" || !taken.Since.Equal(since)):
			t.Fatalf("refusal %+v; want srv-a since %v", taken, since)
		}
	})
}
