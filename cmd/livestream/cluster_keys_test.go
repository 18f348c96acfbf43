package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// TestKeysRedisURL: the keys commands manage a cluster's channels in its
// Redis, from --redis-url or LIVESTREAM_REDIS_URL, and never print the
// URL's password.
func TestKeysRedisURL(t *testing.T) {
	clearKeysEnv(t)
	const password = "keys-pw-51c0"
	addr := testenv.StartRedis(t, "--requirepass", password)
	url := "redis://:" + password + "@" + addr + "/0"

	k := keysJSON(t, "create", "cluster channel", "--json", "--redis-url", url)
	t.Setenv("LIVESTREAM_REDIS_URL", url)
	code, stdout, stderr := runCLI(t, "keys", "list")
	if code != 0 || !strings.Contains(stdout, k.ChannelID) {
		t.Fatalf("keys list with LIVESTREAM_REDIS_URL: exit %d: %s%s", code, stdout, stderr)
	}
	rotated := keysJSON(t, "rotate", k.ChannelID, "--json")
	reg, err := registry.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	if _, err := reg.Authenticate(ctx, k.StreamKey); !errors.Is(err, registry.ErrUnknownKey) {
		t.Errorf("the rotated-away key authenticates: %v", err)
	}
	if c, err := reg.Authenticate(ctx, rotated.StreamKey); err != nil || c.ID != k.ChannelID {
		t.Errorf("the new key: %+v, %v", c, err)
	}
	if code, _, stderr := runCLI(t, "keys", "destinations", "add", k.ChannelID, "--kind", "twitch", "--key", "live_123_abc"); code != 0 {
		t.Errorf("destinations add with LIVESTREAM_REDIS_URL: exit %d: %s", code, stderr)
	}
	if ds, err := reg.Destinations(ctx, k.ChannelID); err != nil || len(ds) != 1 {
		t.Errorf("destinations in Redis: %+v, %v", ds, err)
	}
	if code, _, stderr := runCLI(t, "keys", "revoke", k.ChannelID); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	if _, err := reg.Get(ctx, k.ChannelID); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("revoked channel still in Redis: %v", err)
	}

	t.Setenv("LIVESTREAM_REDIS_URL", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "list", "--redis-url", url, "--data-dir", t.TempDir()}, "give one of"},
		{[]string{"keys", "list", "--redis-url", url, "--admin-url", "http://127.0.0.1:1", "--admin-token", "t"}, "give one of"},
		{[]string{"keys", "list", "--redis-url", "redis://:wrong-" + password + "@" + addr + "/0"}, "redis"},
		{[]string{"keys", "list", "--redis-url", "http://:" + password + "@" + addr}, "redis url"},
	} {
		start := time.Now()
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and %q", tc.args, code, stderr, tc.want)
		}
		if strings.Contains(stdout+stderr, password) {
			t.Errorf("%q printed the Redis password: %s%s", tc.args, stdout, stderr)
		}
		if d := time.Since(start); d > redisOpenTimeout {
			t.Errorf("%q took %v", tc.args, d)
		}
	}
}

// TestServeRedisURL: `serve --redis-url` takes its channels from the
// cluster's Redis: a key made with `keys --redis-url` publishes, and a
// rotation made there (another process) disconnects the publisher.
func TestServeRedisURL(t *testing.T) {
	clearKeysEnv(t)
	const password = "serve-pw-e21b"
	url := "redis://:" + password + "@" + testenv.StartRedis(t, "--requirepass", password) + "/0"
	s := startServerWith(t, func(c *Config) { c.Serve.RedisURL = url })
	k := keysJSON(t, "create", "shared", "--json", "--redis-url", url)
	p := s.publish(k.StreamKey, 60)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		code, _ := s.tryGet("/hls/" + k.PlaybackID + "/360p/index.m3u8")
		return code == 200
	}, "the stream published with a key from Redis")
	keysJSON(t, "rotate", k.ChannelID, "--json", "--redis-url", url)
	if err := p.wait(t, 15*time.Second); err == nil {
		t.Error("ffmpeg ended without error after its key was rotated")
	}
	if logs := s.logs.String(); strings.Contains(logs, password) || strings.Contains(logs, k.StreamKey) {
		t.Error("serve's log holds the Redis password or the stream key")
	}
}

// TestRedisRoutesKeepANewerServer: a server whose publisher reconnected
// elsewhere neither takes the newer route back when it refreshes nor
// touches it at its stream's end; a stream's end leaves its route, ended,
// for the grace period, and a new stream of the channel takes it at once.
func TestRedisRoutesKeepANewerServer(t *testing.T) {
	const password = "routes-pw-9d2e"
	url := "redis://:" + password + "@" + testenv.StartRedis(t, "--requirepass", password) + "/0"
	reg, err := registry.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	k := keysJSON(t, "create", "mover", "--json", "--redis-url", url)
	const grace = 3 * time.Second
	a := redisRoutes{reg: reg, server: "server-a", addr: "127.0.0.1:9001", grace: grace}
	b := redisRoutes{reg: reg, server: "server-b", addr: "127.0.0.1:9002", grace: grace}
	first, second := time.Now().Add(-time.Minute), time.Now()
	if err := a.SetRoute(ctx, k.PlaybackID, first, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRoute(ctx, k.PlaybackID, second, 10*time.Second); err != nil {
		t.Fatalf("the newer stream's route: %v", err)
	}
	if err := a.SetRoute(ctx, k.PlaybackID, first, 10*time.Second); !errors.Is(err, errStreamMoved) {
		t.Errorf("refresh of the older stream's route: err = %v, want errStreamMoved", err)
	}
	if err := a.EndRoute(ctx, k.PlaybackID, first); err != nil {
		t.Fatal(err)
	}
	if r, err := reg.Route(ctx, k.PlaybackID); err != nil || r.Server != "server-b" || r.Addr != b.addr || r.Ended {
		t.Errorf("route after the older server's refresh and end = %+v, %v; want server-b's, live", r, err)
	}
	if err := b.EndRoute(ctx, k.PlaybackID, second); err != nil {
		t.Fatal(err)
	}
	r, err := reg.Route(ctx, k.PlaybackID)
	if err != nil || r.Server != "server-b" || !r.Ended {
		t.Errorf("route after its server's end: %+v, %v; want server-b's, ended", r, err)
	}
	// A new stream takes the ended route at once; the grace is the TTL
	// of its own ended route.
	third := time.Now()
	if err := a.SetRoute(ctx, k.PlaybackID, third, 10*time.Second); err != nil {
		t.Fatalf("a new stream over the ended route: %v", err)
	}
	if r, err := reg.Route(ctx, k.PlaybackID); err != nil || r.Server != "server-a" || r.Ended {
		t.Errorf("route of the new stream: %+v, %v; want server-a's, live", r, err)
	}
	if err := a.EndRoute(ctx, k.PlaybackID, third); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	testenv.WaitFor(t, grace+2*time.Second, func() bool {
		_, err := reg.Route(ctx, k.PlaybackID)
		return errors.Is(err, registry.ErrNoRoute)
	}, "the ended route to expire after the grace")
	if d := time.Since(ended); d < grace-100*time.Millisecond {
		t.Errorf("the ended route expired %v after the end, before the %v grace", d, grace)
	}
}
