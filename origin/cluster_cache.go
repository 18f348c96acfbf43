package origin

import (
	"container/list"
	"sync"
	"time"
)

// entryOverhead is what a cached file costs besides its bytes and key: the
// entry, its list element and map slot, and its ETag. Counting it keeps a
// flood of small negative entries (404s for made-up names) within
// CacheBytes too.
const entryOverhead = 192

// cacheEntry is one cached answer of a server: a file, or its absence.
// Nothing in it changes once it is cached.
type cacheEntry struct {
	key  string
	file hlsFile
	// notFound records a 404, or a stream with no route.
	notFound bool
	// expires is when the entry stops being served; zero means never
	// (until evicted).
	expires time.Time
	size    int64
}

// result is what liveFile returns for e.
func (e *cacheEntry) result() (hlsFile, error) {
	if e.notFound {
		return hlsFile{}, ErrNotFound
	}
	return e.file, nil
}

func (e *cacheEntry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// entryCost is what an entry of key holding n bytes counts against the
// cache's bound.
func entryCost(key string, n int) int64 { return int64(n) + int64(len(key)) + entryOverhead }

// cache holds fetched files up to a number of bytes, and evicts the least
// recently used first. An expired entry is dropped when next asked for, or
// in its turn at the back of the list. It is safe for concurrent use.
type cache struct {
	limit int64

	mu        sync.Mutex
	entries   map[string]*list.Element // of *cacheEntry
	lru       list.List                // front: most recently used
	bytes     int64
	evictions int64
}

func newCache(limit int64) *cache {
	return &cache{limit: limit, entries: map[string]*list.Element{}}
}

// get returns key's entry unless it has expired, and marks it used.
func (c *cache) get(key string, now time.Time) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if e.expired(now) {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// peek is get without marking the entry used: a flight checking whether
// another just filled it.
func (c *cache) peek(key string, now time.Time) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	return e, !e.expired(now)
}

// put caches data as key's file (nil data: key's absence) until expires
// (zero: until evicted), evicts the least recently used entries beyond the
// bound, and returns the entry. An entry larger than the whole cache is
// returned, to be served once, but not kept.
func (c *cache) put(key string, data []byte, expires time.Time) *cacheEntry {
	e := &cacheEntry{key: key, notFound: data == nil, expires: expires, size: entryCost(key, len(data))}
	if data != nil {
		e.file = hlsFile{data: data, etag: etag(data)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	if e.size > c.limit {
		return e
	}
	c.entries[key] = c.lru.PushFront(e)
	c.bytes += e.size
	for c.bytes > c.limit {
		c.remove(c.lru.Back())
		c.evictions++
	}
	return e
}

func (c *cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// usage returns the bytes held, the entries and the evictions so far.
func (c *cache) usage() (bytes int64, entries int, evictions int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.entries), c.evictions
}

// flight is one fetch (or route lookup) that callers asking for the same
// key at the same time wait for; done is closed once val and err are set.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// flights coalesces concurrent work by key: the first caller of a key
// leads (does the work and calls finish), the others wait on its done.
// golang.org/x/sync/singleflight does as much, but does not say who joined
// whom until the work ends, and the Cluster counts waiters as they arrive.
type flights[T any] struct {
	mu sync.Mutex
	m  map[string]*flight[T]
}

// join returns the flight of key, and leader=true when the caller started
// it and must finish it.
func (g *flights[T]) join(key string) (f *flight[T], leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		return f, false
	}
	if g.m == nil {
		g.m = map[string]*flight[T]{}
	}
	f = &flight[T]{done: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// finish ends f with its result and wakes its waiters; callers arriving
// afterwards start a new flight.
func (g *flights[T]) finish(key string, f *flight[T], val T, err error) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
	f.val, f.err = val, err
	close(f.done)
}
