package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestRedisStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t) // before CheckGoroutines: the server outlives the check
	defer testenv.CheckGoroutines(t)()
	s := openRedisURL(t, url)

	if cs, err := s.List(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("new registry List = %v, %v; want none", cs, err)
	}
	a, keyA, err := s.Create(ctx, "Alice's show")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Alice's show" || !validChannelID(a.ID) || !validPlaybackID(a.PlaybackID) ||
		a.CreatedAt.IsZero() || !a.KeyRotatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Create returned %+v", a)
	}
	if err := checkKey(keyA); err != nil {
		t.Fatalf("Create returned a malformed key: %v", err)
	}
	b, keyB, err := s.Create(ctx, "Bob 🎸")
	if err != nil {
		t.Fatal(err)
	}

	if got, err := s.Authenticate(ctx, keyA); err != nil || !sameChannel(got, a) {
		t.Errorf("Authenticate(A's key) = %+v, %v; want %+v", got, err, a)
	}
	if got, err := s.Get(ctx, b.ID); err != nil || !sameChannel(got, b) {
		t.Errorf("Get(B) = %+v, %v", got, err)
	}
	if got, err := s.ByPlaybackID(ctx, b.PlaybackID); err != nil || !sameChannel(got, b) {
		t.Errorf("ByPlaybackID(B) = %+v, %v", got, err)
	}
	if cs, err := s.List(ctx); err != nil || len(cs) != 2 || !sameChannel(cs[0], a) || !sameChannel(cs[1], b) {
		t.Errorf("List = %+v, %v; want A then B", cs, err)
	}

	// Rotate: the old key stops working, the new one works, the rest stays.
	a2, keyA2, err := s.Rotate(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if keyA2 == keyA || a2.ID != a.ID || a2.PlaybackID != a.PlaybackID || !a2.KeyRotatedAt.After(a.KeyRotatedAt) {
		t.Errorf("Rotate returned %+v (same key: %v)", a2, keyA2 == keyA)
	}
	if _, err := s.Authenticate(ctx, keyA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old key after Rotate: %v, want ErrUnknownKey", err)
	}
	if got, err := s.Authenticate(ctx, keyA2); err != nil || got.ID != a.ID {
		t.Errorf("new key after Rotate: %+v, %v", got, err)
	}

	// Revoke: the channel and its key are gone.
	if err := s.Revoke(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, keyB); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("key of a revoked channel: %v, want ErrUnknownKey", err)
	}
	for name, err := range map[string]error{
		"Get":          second(s.Get(ctx, b.ID)),
		"ByPlaybackID": second(s.ByPlaybackID(ctx, b.PlaybackID)),
		"Revoke":       s.Revoke(ctx, b.ID),
		"Rotate":       third(s.Rotate(ctx, b.ID)),
		"Get of a key": second(s.Get(ctx, keyA2)),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a revoked channel: %v, want ErrNotFound", name, err)
		}
		checkNoSecret(t, err, keyA2)
	}

	// Everything is in Redis: a new store sees it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.List(ctx); err == nil {
		t.Errorf("List after Close succeeded")
	}
	s2 := openRedisURL(t, url)
	if cs, err := s2.List(ctx); err != nil || len(cs) != 1 || !sameChannel(cs[0], a2) {
		t.Fatalf("after reopening, List = %+v, %v; want [%+v]", cs, err, a2)
	}
	if got, err := s2.Authenticate(ctx, keyA2); err != nil || got.ID != a.ID {
		t.Errorf("after reopening, Authenticate = %+v, %v", got, err)
	}
	if _, err := s2.Authenticate(ctx, keyA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after reopening, the rotated-away key: %v", err)
	}
	s2.Close()
}

func TestRedisStoreAuthenticateErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	if _, _, err := s.Create(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range keyCases {
		_, err := s.Authenticate(ctx, tc.key)
		want := ErrMalformedKey
		if tc.ok {
			want = ErrUnknownKey
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: Authenticate(%q) = %v, want %v", tc.name, tc.key, err, want)
		}
		if tc.key != "" {
			checkNoSecret(t, err, tc.key)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Authenticate(cancelled, newStreamKey()); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with a cancelled context: %v", err)
	}
}

func TestRedisStoreNames(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	for _, name := range []string{"a", strings.Repeat("é", MaxNameLen), "Live from the Moon — 2026 🚀"} {
		if c, _, err := s.Create(ctx, name); err != nil || c.Name != name {
			t.Errorf("Create(%q) = %q, %v", name, c.Name, err)
		}
	}
	for _, name := range []string{"", strings.Repeat("a", MaxNameLen+1), "two\nlines", "esc\x1b[2J", "bad utf8 \xff"} {
		if _, _, err := s.Create(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if cs, _ := s.List(ctx); len(cs) != 3 {
		t.Errorf("after refused names, %d channels, want 3", len(cs))
	}
}

// TestRedisStoreHoldsNoKey reads every key and value in Redis: stream keys
// are there only as hashes, and a revoked channel leaves nothing behind.
func TestRedisStoreHoldsNoKey(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	_, key1, err := s.Create(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	c, key2, err := s.Create(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	_, key3, err := s.Rotate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	gone, key4, err := s.Create(ctx, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.AddDestination(ctx, gone.ID, Destination{Kind: KindTwitch, Key: twitchKey, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoute(ctx, Route{PlaybackID: gone.PlaybackID, Server: "srv-1", Addr: "127.0.0.1:9000"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}

	dump := redisDump(t, s)
	t.Logf("redis holds:\n%s", dump)
	for _, key := range []string{key1, key2, key3, key4} {
		if strings.Contains(dump, strings.TrimPrefix(key, keyPrefix)) {
			t.Errorf("Redis holds a stream key")
		}
	}
	for _, key := range []string{key1, key3} {
		if !strings.Contains(dump, "ls:key:"+hashKey(key)+" ") {
			t.Errorf("Redis lacks the hash of a current key")
		}
	}
	for _, gone := range []string{hashKey(key2), hashKey(key4), gone.ID, gone.PlaybackID, d.ID, twitchKey} {
		if strings.Contains(dump, gone) {
			t.Errorf("Redis still holds %q of a rotated-away key or revoked channel", gone)
		}
	}
}

func TestRedisStoreConcurrentCreates(t *testing.T) {
	a, url := openRedisTemp(t)
	b := openRedisURL(t, url)
	// Playback ids drawn from 60 make collisions frequent: each must be
	// drawn again, never stored twice.
	var pids []string
	for i := range 60 {
		pids = append(pids, fmt.Sprintf("pid%013d", i))
	}
	narrow := func() string { return pids[rand.IntN(len(pids))] }
	a.newPlaybackID, b.newPlaybackID = narrow, narrow

	checkConcurrentCreates(t, a, b, 5)
}

// TestRedisStoreAcrossInstances: a change made through one store is heard
// by the subscribers of another, with nobody calling it, and the other
// store acts on it at once (a rotated key kicks the publisher elsewhere).
func TestRedisStoreAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t)
	defer testenv.CheckGoroutines(t)()
	a, b := openRedisURL(t, url), openRedisURL(t, url)

	c, key, err := a.Create(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Authenticate(ctx, key); err != nil || got.ID != c.ID {
		t.Fatalf("b does not see a's channel: %+v, %v", got, err)
	}
	var heardA recorder
	cancelA := a.Subscribe(heardA.hear)
	defer cancelA()
	heardB := make(chan Change, 10)
	cancelB := b.Subscribe(func(c Change) { heardB <- c })
	defer cancelB()
	expectB := func(after string, want Change) {
		t.Helper()
		select {
		case got := <-heardB:
			if got != want {
				t.Errorf("after %s, b heard %v, want %v", after, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("b did not hear of %s", after)
		}
	}

	// A rotation through a: a's subscribers hear before Rotate returns,
	// once; b's through pub/sub; b refuses the old key.
	_, key2, err := a.Rotate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	heardA.expect(t, "Rotate", Change{c.ID, KeyChanged})
	expectB("a's Rotate", Change{c.ID, KeyChanged})
	if _, err := b.Authenticate(ctx, key); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("b accepts the rotated-away key: %v", err)
	}
	if _, err := b.Authenticate(ctx, key2); err != nil {
		t.Errorf("b refuses the new key: %v", err)
	}

	// Destinations changed through a are heard by b.
	d, err := a.AddDestination(ctx, c.ID, Destination{Kind: KindYouTube, Key: youtubeKey, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	expectB("a's AddDestination", Change{c.ID, DestinationsChanged})
	if _, err := a.UpdateDestination(ctx, c.ID, d.ID, DestinationUpdate{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	expectB("a's UpdateDestination", Change{c.ID, DestinationsChanged})
	if ds, err := b.Destinations(ctx, c.ID); err != nil || len(ds) != 1 || ds[0].Enabled || ds[0].Key != youtubeKey {
		t.Errorf("b's Destinations = %+v, %v", ds, err)
	}

	heardA.expect(t, "a's destination changes", Change{c.ID, DestinationsChanged}, Change{c.ID, DestinationsChanged})

	// A revocation through b reaches a's subscribers.
	if err := b.Revoke(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	expectB("b's own Revoke", Change{c.ID, ChannelRevoked})
	testenv.WaitFor(t, 5*time.Second, func() bool {
		heardA.mu.Lock()
		defer heardA.mu.Unlock()
		return len(heardA.changes) > 0
	}, "a's subscriber to hear b's Revoke")
	heardA.expect(t, "b's Revoke", Change{c.ID, ChannelRevoked})

	// Cancelled subscribers hear nothing more.
	cancelB()
	other, _, err := a.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Rotate(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	// b's pub/sub goroutine delivers in order: once a change made after
	// this one reaches a subscriber of b, the rotation has been handled.
	marker := make(chan Change, 1)
	cancelMarker := b.Subscribe(func(c Change) { marker <- c })
	defer cancelMarker()
	if err := a.Revoke(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-marker:
	case <-time.After(5 * time.Second):
		t.Fatal("b did not hear a's Revoke")
	}
	select {
	case got := <-heardB:
		t.Errorf("a cancelled subscriber heard %v", got)
	default:
	}
	cancelMarker()
	a.Close()
	b.Close() // ends b's pub/sub goroutine, which CheckGoroutines checks
}

// TestRedisStoreCorruptValue: a value in Redis that is not a channel is an
// error naming its key, not a missing channel.
func TestRedisStoreCorruptValue(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	c, key, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"not json":      "{",
		"unknown field": `{"channel_id": "` + c.ID + `", "extra": 1}`,
		"trailing data": `{"channel_id": "` + c.ID + `"} {}`,
		"bad hash":      `{"channel_id": "` + c.ID + `", "name": "x", "playback_id": "aaaaaaaaaaaaaaaa", "created_at": "2026-01-01T00:00:00Z", "key_rotated_at": "2026-01-01T00:00:00Z", "key_sha256": "zz"}`,
	} {
		if err := s.rdb.Set(ctx, redisChannelKey(c.ID), value, 0).Err(); err != nil {
			t.Fatal(err)
		}
		for op, err := range map[string]error{
			"Get":          second(s.Get(ctx, c.ID)),
			"List":         second(s.List(ctx)),
			"Authenticate": second(s.Authenticate(ctx, key)),
			"Rotate":       third(s.Rotate(ctx, c.ID)),
		} {
			if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), redisChannelKey(c.ID)) {
				t.Errorf("%s: %s = %v, want an error naming the key", name, op, err)
			}
		}
	}
}

func TestRedisPassword(t *testing.T) {
	ctx := context.Background()
	const password = "pw-Secret-4711"
	addr := testenv.StartRedis(t, "--requirepass", password)

	s := openRedisURL(t, "redis://:"+password+"@"+addr+"/2")
	c, key, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, key); err != nil || got.ID != c.ID {
		t.Errorf("Authenticate through a password-protected Redis: %+v, %v", got, err)
	}
	for _, url := range []string{
		"redis://" + addr + "/2",
		"redis://:wrong-" + password + "@" + addr + "/2",
		"redis://:" + password + "@" + addr + "/2x",
		"redis://:" + password + "@[" + addr + "/2",
		"http://:" + password + "@" + addr + "/2",
	} {
		s, err := OpenRedis(ctx, url)
		if err == nil {
			s.Close()
			t.Errorf("OpenRedis without the right password or with a bad URL succeeded")
			continue
		}
		t.Logf("error: %v", err)
		checkNoSecret(t, err, password)
	}
}

// TestRedisTLS connects with rediss:// to a redis-server that speaks only
// TLS, with a certificate the client verifies.
func TestRedisTLS(t *testing.T) {
	ctx := context.Background()
	cert, key, client := selfSignedTLS(t, t.TempDir())
	port := testenv.FreePort(t)
	addr := testenv.RunRedis(t, port, "--port", "0", "--tls-port", fmt.Sprint(port),
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no")

	s, err := openRedis(ctx, "rediss://"+addr+"/0", client)
	if err != nil {
		t.Fatalf("rediss with the server's CA: %v", err)
	}
	defer s.Close()
	c, k, err := s.Create(ctx, "over tls")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, k); err != nil || got.ID != c.ID {
		t.Errorf("Authenticate over TLS: %+v, %v", got, err)
	}
	// Without the CA (the system's roots), the certificate is refused.
	if s2, err := OpenRedis(ctx, "rediss://"+addr+"/0?dial_timeout=2s"); err == nil {
		s2.Close()
		t.Errorf("rediss to a self-signed certificate succeeded without trusting it")
	}
	// Plain redis:// to a TLS port fails rather than hang.
	if s3, err := OpenRedis(ctx, "redis://"+addr+"/0?dial_timeout=2s&read_timeout=2s"); err == nil {
		s3.Close()
		t.Errorf("redis:// to a TLS-only server succeeded")
	}
}
