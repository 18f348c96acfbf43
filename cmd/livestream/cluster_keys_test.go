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
// removes it at its stream's end.
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
	a := redisRoutes{reg: reg, server: "server-a", addr: "127.0.0.1:9001"}
	b := redisRoutes{reg: reg, server: "server-b", addr: "127.0.0.1:9002"}
	first := time.Now().Add(-time.Minute)
	if err := a.SetRoute(ctx, k.PlaybackID, first, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.SetRoute(ctx, k.PlaybackID, time.Now(), 10*time.Second); err != nil {
		t.Fatalf("the newer stream's route: %v", err)
	}
	if err := a.SetRoute(ctx, k.PlaybackID, first, 10*time.Second); !errors.Is(err, errStreamMoved) {
		t.Errorf("refresh of the older stream's route: err = %v, want errStreamMoved", err)
	}
	if err := a.RemoveRoute(ctx, k.PlaybackID); err != nil {
		t.Fatal(err)
	}
	if r, err := reg.Route(ctx, k.PlaybackID); err != nil || r.Server != "server-b" || r.Addr != b.addr {
		t.Errorf("route after the older server's refresh and end = %+v, %v; want server-b's", r, err)
	}
	if err := b.RemoveRoute(ctx, k.PlaybackID); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Route(ctx, k.PlaybackID); !errors.Is(err, registry.ErrNoRoute) {
		t.Errorf("route after its server's end: %v, want ErrNoRoute", err)
	}
}
