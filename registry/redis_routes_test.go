package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestRedisRoutes(t *testing.T) {
	ctx := context.Background()
	s, url := openRedisTemp(t)
	other := openRedisURL(t, url)
	c, key, err := s.Create(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PlaybackID
	if _, err := s.Route(ctx, pid); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("Route before any SetRoute: %v, want ErrNoRoute", err)
	}

	// Set: every store of the cluster sees it, Since and all.
	since := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	r := Route{PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:8081", Since: since}
	if err := s.SetRoute(ctx, r, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := other.Route(ctx, pid); err != nil || got.Server != "srv-a" || got.Addr != r.Addr || !got.Since.Equal(since) {
		t.Errorf("Route = %+v, %v; want %+v", got, err, r)
	}

	// The publisher reconnected to srv-b: srv-a's late RemoveRoute leaves
	// srv-b's route, srv-b's removes it.
	r2 := Route{PlaybackID: pid, Server: "srv-b", Addr: "10.0.0.2:8081"}
	if err := other.SetRoute(ctx, r2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.RemoveRoute(ctx, pid, "srv-a"); err != nil || removed {
		t.Errorf("RemoveRoute by the server the route no longer points at = %v, %v; want false", removed, err)
	}
	if got, err := s.Route(ctx, pid); err != nil || got.Server != "srv-b" || got.Since.IsZero() {
		t.Errorf("after srv-a's RemoveRoute, Route = %+v, %v; want srv-b's", got, err)
	}
	if removed, err := s.RemoveRoute(ctx, pid, "srv-b"); err != nil || !removed {
		t.Errorf("RemoveRoute by the route's server = %v, %v; want true", removed, err)
	}
	if _, err := s.Route(ctx, pid); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Route after RemoveRoute: %v", err)
	}
	if removed, err := s.RemoveRoute(ctx, pid, "srv-b"); err != nil || removed {
		t.Errorf("RemoveRoute of no route = %v, %v", removed, err)
	}

	// A route expires when it is not refreshed.
	if err := s.SetRoute(ctx, r, time.Second); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		_, err := other.Route(ctx, pid)
		return errors.Is(err, ErrNoRoute)
	}, "a route with a TTL of 1s to expire")

	// Refused routes, and lookups of what is not a playback id (a key
	// pasted in the wrong place is not quoted).
	for name, bad := range map[string]Route{
		"no playback id": {Server: "srv-a", Addr: "10.0.0.1:8081"},
		"a key as pid":   {PlaybackID: key, Server: "srv-a", Addr: "10.0.0.1:8081"},
		"no server":      {PlaybackID: pid, Addr: "10.0.0.1:8081"},
		"space":          {PlaybackID: pid, Server: "srv a", Addr: "10.0.0.1:8081"},
		"no port":        {PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1"},
		"port 0":         {PlaybackID: pid, Server: "srv-a", Addr: "10.0.0.1:0"},
	} {
		err := s.SetRoute(ctx, bad, time.Minute)
		if err == nil {
			t.Errorf("SetRoute with %s succeeded", name)
		}
		checkNoSecret(t, err, key)
	}
	if err := s.SetRoute(ctx, r, 0); err == nil {
		t.Errorf("SetRoute without a TTL succeeded")
	}
	if _, err := s.Route(ctx, key); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Route of a stream key: %v", err)
	}

	// Revoking the channel removes its route at once.
	if err := s.SetRoute(ctx, r, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Route(ctx, pid); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Route of a revoked channel: %v", err)
	}
}

func TestRedisHeartbeats(t *testing.T) {
	ctx := context.Background()
	s, url := openRedisTemp(t)
	proxy := openRedisURL(t, url)
	if got, err := proxy.Servers(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Servers of a new cluster = %+v, %v", got, err)
	}
	busy := ServerInfo{ID: "srv-busy", RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1:8081", Streams: 3, MaxStreams: 4, CPU: 0.5}
	idle := ServerInfo{ID: "srv-idle", RTMPAddr: "10.0.0.2:1935", HTTPAddr: "10.0.0.2:8081", Streams: 1, MaxStreams: 4, CPU: 0.1, MaxLagSeconds: 0.2}
	hot := ServerInfo{ID: "srv-hot", RTMPAddr: "10.0.0.3:1935", HTTPAddr: "10.0.0.3:8081", Streams: 0, CPU: 0.9}
	for _, info := range []ServerInfo{busy, idle, hot} {
		if err := s.Heartbeat(ctx, info, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	got, err := proxy.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := serverIDs(got); ids != "srv-idle srv-busy srv-hot" {
		t.Errorf("Servers = %s; want least loaded first: srv-idle srv-busy srv-hot", ids)
	}
	if got[0].At.IsZero() || got[0].MaxLagSeconds != 0.2 || got[0].HTTPAddr != idle.HTTPAddr {
		t.Errorf("Servers[0] = %+v", got[0])
	}

	// A new heartbeat replaces the last; one that is not refreshed expires;
	// a server that stops cleanly leaves at once.
	idle.Streams, idle.CPU = 4, 0.95
	if err := s.Heartbeat(ctx, idle, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, _ := proxy.Servers(ctx); serverIDs(got) != "srv-busy srv-hot srv-idle" {
		t.Errorf("after srv-idle filled up, Servers = %s", serverIDs(got))
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		got, err := proxy.Servers(ctx)
		return err == nil && serverIDs(got) == "srv-busy srv-hot"
	}, "srv-idle's heartbeat with a TTL of 1s to expire")
	if n, err := s.rdb.SCard(ctx, redisServers).Result(); err != nil || n != 2 {
		t.Errorf("the set of servers holds %d, %v; want the expired one pruned", n, err)
	}
	if err := s.RemoveServer(ctx, "srv-hot"); err != nil {
		t.Fatal(err)
	}
	if got, _ := proxy.Servers(ctx); serverIDs(got) != "srv-busy" {
		t.Errorf("after RemoveServer, Servers = %s", serverIDs(got))
	}

	for name, bad := range map[string]ServerInfo{
		"no id":          {RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1:8081"},
		"no rtmp addr":   {ID: "x", HTTPAddr: "10.0.0.1:8081"},
		"bad http addr":  {ID: "x", RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1"},
		"negative load":  {ID: "x", RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1:8081", CPU: -1},
		"long id":        {ID: strings.Repeat("x", maxServerIDLen+1), RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1:8081"},
		"id with space ": {ID: "a b", RTMPAddr: "10.0.0.1:1935", HTTPAddr: "10.0.0.1:8081"},
	} {
		if err := s.Heartbeat(ctx, bad, time.Minute); err == nil {
			t.Errorf("Heartbeat with %s succeeded", name)
		}
	}
	// A heartbeat someone else wrote that does not decode is skipped.
	if err := s.rdb.Set(ctx, redisServerKey("junk"), "{", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	s.rdb.SAdd(ctx, redisServers, "junk")
	if got, err := proxy.Servers(ctx); err != nil || serverIDs(got) != "srv-busy" {
		t.Errorf("with a corrupt heartbeat, Servers = %s, %v", serverIDs(got), err)
	}
}

func serverIDs(infos []ServerInfo) string {
	var ids []string
	for _, i := range infos {
		ids = append(ids, i.ID)
	}
	return strings.Join(ids, " ")
}

// routeCases seed FuzzParseRoute.
var routeCases = []string{
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"10.0.0.1:8081","since":"2026-11-25T12:00:00.123Z"}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"[::1]:8081","since":"2026-11-25T12:00:00Z"}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"10.0.0.1:8081","since":"2026-11-25T12:00:00Z","ended":true}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"10.0.0.1:8081","since":"2026-11-25T12:00:00Z","ended":1}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"10.0.0.1","since":"2026-11-25T12:00:00Z"}`,
	`{"playback_id":"AAAA","server":"srv-a","addr":"10.0.0.1:8081","since":"2026-11-25T12:00:00Z"}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"srv-a","addr":"10.0.0.1:8081","extra":1}`,
	`{"playback_id":"aaaaaaaaaaaaaaaa","server":"","addr":"10.0.0.1:8081"} {}`,
	`{`, ``, `null`,
}

// FuzzParseRoute checks that parseRoute accepts only routes SetRoute
// could store, and that what it accepts encodes back to a route it
// accepts, equal to the first.
func FuzzParseRoute(f *testing.F) {
	for _, c := range routeCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data string) {
		r, err := parseRoute(data)
		if err != nil {
			return
		}
		if err := r.check(); err != nil {
			t.Fatalf("parseRoute accepted a route that fails check: %v", err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := parseRoute(string(again))
		if err != nil || r2.PlaybackID != r.PlaybackID || r2.Server != r.Server || r2.Addr != r.Addr || !r2.Since.Equal(r.Since) || r2.Ended != r.Ended {
			t.Fatalf("round trip of %+v: %+v, %v", r, r2, err)
		}
	})
}

// serverInfoCases seed FuzzParseServerInfo.
var serverInfoCases = []string{
	`{"id":"srv-a","rtmp_addr":"10.0.0.1:1935","http_addr":"10.0.0.1:8081","streams":1,"max_streams":4,"cpu":0.5,"max_lag_seconds":0.1,"at":"2026-11-25T12:00:00Z"}`,
	`{"id":"srv-a","rtmp_addr":"10.0.0.1:1935","http_addr":"10.0.0.1:8081","streams":-1}`,
	`{"id":"","rtmp_addr":"10.0.0.1:1935","http_addr":"10.0.0.1:8081"}`,
	`{"id":"srv-a","rtmp_addr":"10.0.0.1:1935","http_addr":"10.0.0.1:8081","cpu":1e400}`,
	`{"id":"srv-a"} 1`, `[]`, `{`,
}

// FuzzParseServerInfo checks what parseServerInfo accepts as FuzzParseRoute
// does for routes, and that Load of it is not negative.
func FuzzParseServerInfo(f *testing.F) {
	for _, c := range serverInfoCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data string) {
		info, err := parseServerInfo(data)
		if err != nil {
			return
		}
		if err := info.check(); err != nil {
			t.Fatalf("parseServerInfo accepted a heartbeat that fails check: %v", err)
		}
		if info.Load() < 0 {
			t.Fatalf("Load of %+v is %v", info, info.Load())
		}
		again, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		info2, err := parseServerInfo(string(again))
		if err != nil || info2.ID != info.ID || info2.Streams != info.Streams || info2.CPU != info.CPU || !info2.At.Equal(info.At) {
			t.Fatalf("round trip of %+v: %+v, %v", info, info2, err)
		}
	})
}
