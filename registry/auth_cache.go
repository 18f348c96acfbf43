package registry

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of AuthCacheConfig's zero fields.
const (
	// DefaultAuthCacheTTL: a key the Store confirmed longer ago than this
	// is not taken on the cache's word. A rotation or revocation made
	// while this server could not hear of it stays unnoticed at most as
	// long.
	DefaultAuthCacheTTL = 10 * time.Minute
	// DefaultAuthCacheSize: a server publishes a few dozen channels at
	// most; a thousand keys is a few hundred kB.
	DefaultAuthCacheSize = 1024
	// cachedCallTimeout bounds a Store call that the cache could answer
	// if the Store cannot: a healthy Redis answers in a millisecond, and
	// one that is down costs its client seconds of dial retries, which a
	// publish waiting for its answer cannot afford (a proxy gives a
	// server 5 s to accept it).
	cachedCallTimeout = 500 * time.Millisecond
)

var _ Store = (*AuthCache)(nil)

// AuthCacheConfig configures an AuthCache. Zero fields mean defaults.
type AuthCacheConfig struct {
	// TTL is how long after the Store last confirmed a key the cache
	// still vouches for it. Default DefaultAuthCacheTTL.
	TTL time.Duration
	// Size bounds the keys remembered, least recently used out first.
	// Default DefaultAuthCacheSize.
	Size int
	// Logger receives a line for each publish the cache vouched for.
	// Default slog.Default().
	Logger *slog.Logger
}

// AuthCache is a Store that remembers the channels it authenticated, by
// their key's SHA-256 (never the key itself), so that a server goes on
// accepting the publishes of channels it knows while the Store cannot be
// reached (Redis is away). It vouches for a key only then: when the Store
// answers, its answer stands, and ErrUnknownKey forgets the key at once.
// A key rotation or a channel revocation it hears of (Subscribe) forgets
// the channel's keys; a key the Store has not confirmed for Config.TTL is
// forgotten as well. Get falls back the same way, on the channels the
// cache knows. A Store call that the cache could answer gets 500 ms at
// most: a Redis that is down would cost a publish seconds of retries.
//
// UpdateSettings is the Store's, and updates the channel the cache holds;
// every other method is the Store's. It is safe for concurrent use. Close
// it before the Store.
type AuthCache struct {
	Store
	ttl  time.Duration
	size int
	log  *slog.Logger

	mu      sync.Mutex
	entries map[string]*list.Element // by key hash; of *authEntry
	lru     list.List                // front: most recently used

	vouched     atomic.Int64
	unsubscribe func()
}

// authEntry is one key the Store confirmed: its hash, its channel, when.
type authEntry struct {
	hash string
	ch   Channel
	at   time.Time
}

// NewAuthCache returns an AuthCache in front of s, subscribed to its
// changes until Close.
func NewAuthCache(s Store, cfg AuthCacheConfig) *AuthCache {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultAuthCacheTTL
	}
	if cfg.Size <= 0 {
		cfg.Size = DefaultAuthCacheSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &AuthCache{Store: s, ttl: cfg.TTL, size: cfg.Size, log: cfg.Logger, entries: map[string]*list.Element{}}
	c.unsubscribe = s.Subscribe(c.changed)
	return c
}

// Close stops listening to the Store's changes. It does not close the
// Store.
func (c *AuthCache) Close() { c.unsubscribe() }

// Vouched counts the publishes authenticated by the cache alone.
func (c *AuthCache) Vouched() int64 { return c.vouched.Load() }

// Authenticate returns the Store's answer; when the Store cannot be
// reached, the channel the key authenticated within the TTL, if any. A
// key the cache does not know gets the Store's error, saying so.
func (c *AuthCache) Authenticate(ctx context.Context, key string) (Channel, error) {
	known := func(e *authEntry) bool { return e.hash == hashKey(key) }
	if c.holds(known) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cachedCallTimeout)
		defer cancel()
	}
	ch, err := c.Store.Authenticate(ctx, key)
	switch {
	case err == nil:
		c.remember(hashKey(key), ch)
		return ch, nil
	case errors.Is(err, ErrUnknownKey):
		c.forget(known)
		return Channel{}, err
	case !unreachable(err):
		return Channel{}, err
	}
	if ch, ok := c.lookup(known); ok {
		c.vouched.Add(1)
		c.log.Warn("stream key accepted on this server's word: the registry is unreachable", "channel_id", ch.ID, "err", err)
		return ch, nil
	}
	return Channel{}, fmt.Errorf("registry unreachable, and this server has not authenticated the key within %v: %w", c.ttl, err)
}

// Get returns the Store's answer; when the Store cannot be reached,
// channel id as the cache knows it, if it does.
func (c *AuthCache) Get(ctx context.Context, id string) (Channel, error) {
	known := func(e *authEntry) bool { return e.ch.ID == id }
	if c.holds(known) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cachedCallTimeout)
		defer cancel()
	}
	ch, err := c.Store.Get(ctx, id)
	if err == nil || !unreachable(err) {
		if errors.Is(err, ErrNotFound) {
			c.forget(known)
		}
		return ch, err
	}
	if ch, ok := c.lookup(known); ok {
		return ch, nil
	}
	return Channel{}, err
}

// UpdateSettings is the Store's; the channel the cache holds for its keys
// takes the new settings, so that a publish it vouches for later has them.
// Settings changed elsewhere reach the cache with the channel's next
// authentication: a publish vouched for while the Store is away has the
// settings its channel had when last confirmed.
func (c *AuthCache) UpdateSettings(ctx context.Context, id string, u SettingsUpdate) (Channel, error) {
	ch, err := c.Store.UpdateSettings(ctx, id, u)
	if err != nil {
		return Channel{}, err
	}
	c.mu.Lock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*authEntry); e.ch.ID == id {
			e.ch.Settings = ch.Settings
		}
	}
	c.mu.Unlock()
	return ch, nil
}

// changed forgets the keys of a channel whose key was rotated or that was
// revoked.
func (c *AuthCache) changed(ch Change) {
	if ch.What == KeyChanged || ch.What == ChannelRevoked {
		c.forget(func(e *authEntry) bool { return e.ch.ID == ch.ChannelID })
	}
}

func (c *AuthCache) remember(hash string, ch Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[hash]; ok {
		c.lru.Remove(el)
	}
	c.entries[hash] = c.lru.PushFront(&authEntry{hash: hash, ch: ch, at: time.Now()})
	for c.lru.Len() > c.size {
		e := c.lru.Remove(c.lru.Back()).(*authEntry)
		delete(c.entries, e.hash)
	}
}

// holds reports whether an entry that match accepts is held, expired or
// not.
func (c *AuthCache) holds(match func(*authEntry) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		if match(el.Value.(*authEntry)) {
			return true
		}
	}
	return false
}

// lookup returns the channel of the most recently used entry that match
// accepts and the Store confirmed within the TTL, and marks it used.
// Expired entries are dropped on the way.
func (c *AuthCache) lookup(match func(*authEntry) bool) (Channel, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*authEntry)
		switch {
		case now.Sub(e.at) >= c.ttl:
			c.lru.Remove(el)
			delete(c.entries, e.hash)
		case match(e):
			c.lru.MoveToFront(el)
			return e.ch, true
		}
		el = next
	}
	return Channel{}, false
}

func (c *AuthCache) forget(match func(*authEntry) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*authEntry); match(e) {
			c.lru.Remove(el)
			delete(c.entries, e.hash)
		}
		el = next
	}
}

// unreachable reports whether err is a Store that could not be reached or
// did not answer in time (Redis down, restarting, or cut off), rather
// than an answer: a refused or reset connection, a timeout, a connection
// closed mid-answer, a pool with no connection to give, or Redis saying
// it is loading its data or has lost its primary. A cancelled context is
// not: the caller left.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, context.DeadlineExceeded, syscall.ECONNREFUSED, syscall.ECONNRESET, redis.ErrPoolTimeout} {
		if errors.Is(err, target) {
			return true
		}
	}
	if re, ok := errors.AsType[redis.Error](err); ok {
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING ") || strings.HasPrefix(msg, "MASTERDOWN ") || strings.HasPrefix(msg, "TRYAGAIN ")
	}
	return false
}
