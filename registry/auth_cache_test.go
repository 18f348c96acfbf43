package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// flakyStore is a FileStore that can be made unreachable, as a Redis
// that is down, and deaf to its own changes, as a RedisStore whose
// subscription missed them.
type flakyStore struct {
	*FileStore
	down atomic.Bool
	hang atomic.Bool // calls wait for their ctx to end, as a Redis that does not answer
	deaf atomic.Bool
}

var errDown = fmt.Errorf("read channel: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})

func (s *flakyStore) Authenticate(ctx context.Context, key string) (Channel, error) {
	if err := checkKey(key); err != nil {
		return Channel{}, err
	}
	if s.hang.Load() {
		<-ctx.Done()
		return Channel{}, ctx.Err()
	}
	if s.down.Load() {
		return Channel{}, errDown
	}
	return s.FileStore.Authenticate(ctx, key)
}

func (s *flakyStore) Get(ctx context.Context, id string) (Channel, error) {
	if s.down.Load() {
		return Channel{}, errDown
	}
	return s.FileStore.Get(ctx, id)
}

func (s *flakyStore) Subscribe(fn func(Change)) func() {
	return s.FileStore.Subscribe(func(c Change) {
		if !s.deaf.Load() {
			fn(c)
		}
	})
}

// TestAuthCache: with the store down, a key the store confirmed within the
// TTL publishes, its channel reads through Get, and any other key is
// refused with the store's error; a rotation or revocation heard of, or an
// ErrUnknownKey from the store, forgets the key; the TTL and the size bound
// forget the rest.
func TestAuthCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fs, err := OpenFile(filepath.Join(t.TempDir(), "channels.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		s := &flakyStore{FileStore: fs}
		logs := &testenv.LogBuffer{}
		c := NewAuthCache(s, AuthCacheConfig{TTL: time.Hour, Size: 3, Logger: logs.Logger()})
		defer c.Close()
		var keys []string
		var chans []Channel
		for i := range 5 {
			ch, key, err := fs.Create(ctx, fmt.Sprintf("ch%d", i))
			if err != nil {
				t.Fatal(err)
			}
			keys, chans = append(keys, key), append(chans, ch)
		}
		auth := func(i int, wantOK bool) {
			t.Helper()
			ch, err := c.Authenticate(ctx, keys[i])
			if ok := err == nil && ch.ID == chans[i].ID; ok != wantOK {
				t.Errorf("key %d (store down %v): Authenticate = %s, %v; want accepted %v", i, s.down.Load(), ch.ID, err, wantOK)
			}
			if err != nil && strings.Contains(err.Error(), keys[i]) {
				t.Errorf("the error quotes the key: %v", err)
			}
		}

		// Keys 0 to 3 confirmed; the bound keeps the last three used.
		for i := range 4 {
			auth(i, true)
		}
		s.down.Store(true)
		auth(0, false) // pushed out by key 3
		auth(1, true)
		auth(2, true)
		auth(3, true)
		auth(4, false) // never confirmed here
		if _, err := c.Authenticate(ctx, keys[4]); errors.Is(err, ErrUnknownKey) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "registry unreachable") {
			t.Errorf("unknown key with the store down: %v; want the store's error, saying the registry is unreachable", err)
		}
		if _, err := c.Authenticate(ctx, "sk_short"); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("malformed key with the store down: %v", err)
		}
		if ch, err := c.Get(ctx, chans[1].ID); err != nil || ch.PlaybackID != chans[1].PlaybackID {
			t.Errorf("Get of a known channel with the store down = %+v, %v", ch, err)
		}
		if _, err := c.Get(ctx, chans[4].ID); !errors.Is(err, errDown) {
			t.Errorf("Get of an unknown channel with the store down: %v, want the store's error", err)
		}
		if n := c.Vouched(); n != 3 {
			t.Errorf("Vouched = %d, want 3", n)
		}
		if logs := logs.String(); !strings.Contains(logs, chans[1].ID) || strings.Contains(logs, keys[1]) || strings.Contains(logs, hashKey(keys[1])) {
			t.Errorf("log of a vouched publish: want its channel id, never its key or hash:\n%s", logs)
		}

		// A store that does not answer gets 500 ms for a key the cache
		// knows, and the caller's whole time for one it does not.
		s.down.Store(false)
		s.hang.Store(true)
		start := time.Now()
		auth(1, true)
		if d := time.Since(start); d != cachedCallTimeout {
			t.Errorf("a known key waited %v for a hanging store, want %v", d, cachedCallTimeout)
		}
		start = time.Now()
		callerCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if _, err := c.Authenticate(callerCtx, keys[4]); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Errorf("an unknown key with a hanging store: %v after %v; want the caller's deadline, 5s", err, time.Since(start))
		}
		cancel()
		s.hang.Store(false)

		// A rotation heard of forgets the channel; one missed is caught by
		// the store's ErrUnknownKey once it answers.
		s.down.Store(false)
		if _, _, err := fs.Rotate(ctx, chans[1].ID); err != nil {
			t.Fatal(err)
		}
		s.deaf.Store(true)
		if _, _, err := fs.Rotate(ctx, chans[2].ID); err != nil {
			t.Fatal(err)
		}
		s.down.Store(true)
		auth(1, false)
		auth(2, true) // the cache could not know
		s.down.Store(false)
		if _, err := c.Authenticate(ctx, keys[2]); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("rotated key with the store up: %v, want ErrUnknownKey", err)
		}
		s.down.Store(true)
		auth(2, false)

		// A revocation heard of forgets the channel, for Get too.
		s.deaf.Store(false)
		s.down.Store(false)
		auth(3, true)
		if err := fs.Revoke(ctx, chans[3].ID); err != nil {
			t.Fatal(err)
		}
		s.down.Store(true)
		auth(3, false)
		if _, err := c.Get(ctx, chans[3].ID); !errors.Is(err, errDown) {
			t.Errorf("Get of a revoked channel with the store down: %v", err)
		}

		// The TTL runs from the store's last confirmation.
		s.down.Store(false)
		auth(0, true)
		time.Sleep(59 * time.Minute)
		s.down.Store(true)
		auth(0, true)
		time.Sleep(time.Minute)
		auth(0, false)
	})
}

// TestUnreachable: which errors are the store away, and which answers.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errDown, true},
		{fmt.Errorf("authenticate: %w", ctx.Err()), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{redis.ErrPoolTimeout, true},
		{fmt.Errorf("authenticate: %w", redisError("LOADING Redis is loading the dataset in memory")), true},
		{context.Canceled, false},
		{ErrUnknownKey, false},
		{ErrMalformedKey, false},
		{ErrNotFound, false},
		{fmt.Errorf("redis key ls:ch:x: %w", errors.New("holds channel y")), false},
		{redisError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
	} {
		if got := unreachable(c.err); got != c.want {
			t.Errorf("unreachable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// redisError is an error as Redis answers it.
type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

var _ redis.Error = redisError("")

// TestAuthCacheSettings: settings changed through the cache reach the
// channel it vouches for while the store is down.
func TestAuthCacheSettings(t *testing.T) {
	ctx := context.Background()
	fs, _ := openTemp(t)
	s := &flakyStore{FileStore: fs}
	c := NewAuthCache(s, AuthCacheConfig{TTL: time.Hour, Logger: testenv.Logger(t)})
	defer c.Close()
	ch, key, err := fs.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	got, err := c.UpdateSettings(ctx, ch.ID, SettingsUpdate{KeepOnUnpublish: ptr(true)})
	if err != nil || !got.Settings.KeepOnUnpublish {
		t.Fatalf("UpdateSettings = %+v, %v", got, err)
	}
	if stored, _ := fs.Get(ctx, ch.ID); !stored.Settings.KeepOnUnpublish {
		t.Error("UpdateSettings did not reach the store")
	}
	s.down.Store(true)
	if got, err := c.Authenticate(ctx, key); err != nil || !got.Settings.KeepOnUnpublish {
		t.Errorf("vouched for with the store down: %+v, %v; want the new settings", got.Settings, err)
	}
	if _, err := c.UpdateSettings(ctx, "ch_aaaaaaaaaaaa", SettingsUpdate{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateSettings of an unknown channel: %v", err)
	}
}
