package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Router finds the server that holds a live stream. The origin role adapts
// the registry's live routes to it.
type Router interface {
	// Route returns the internal HTTP address ("host:port") of the server
	// whose live HLS holds playbackID, or ErrNoRoute (or an error wrapping
	// it) when no server does. Any other error is the registry failing. It
	// must be safe for concurrent use.
	Route(ctx context.Context, playbackID string) (addr string, err error)
}

// RouterFunc adapts a function to a Router.
type RouterFunc func(ctx context.Context, playbackID string) (string, error)

// Route calls f.
func (f RouterFunc) Route(ctx context.Context, playbackID string) (string, error) {
	return f(ctx, playbackID)
}

// ClusterOptions configures a Cluster. The zero value is ready to use.
type ClusterOptions struct {
	// Options are the Handler's: the logger, /vod/'s source and the watch
	// page's retry, as for NewLocal.
	Options
	// CacheBytes bounds the cache of fetched files, counted as their
	// lengths plus a small overhead per file. Zero means 512 MiB.
	CacheBytes int64
	// ConnectTimeout bounds connecting to a server. Zero means 2 s.
	ConnectTimeout time.Duration
	// FetchTimeout bounds one upstream request, from connecting to the
	// last byte of the body. Zero means 10 s.
	FetchTimeout time.Duration

	// routeTTL and routeTimeout replace the constants of the same names
	// when set: tests of the route cache run in a fraction of the time.
	routeTTL, routeTimeout time.Duration
}

const (
	defaultCacheBytes     = 512 << 20
	defaultConnectTimeout = 2 * time.Second
	defaultFetchTimeout   = 10 * time.Second
	// routeTTL is how long a route is used without asking the Router
	// again, so that viewers' requests cost no registry round trip while a
	// route is cached, yet a stream that moved is found within a second.
	routeTTL = time.Second
	// routeTimeout bounds one Router call.
	routeTimeout = 2 * time.Second
	// maxFileBytes bounds what one upstream answer may hold: a segment is
	// a few MB, and a server gone wrong must not fill the origin's memory.
	maxFileBytes = 64 << 20
	// maxIdleConnsPerServer is the keep-alive connections kept to each
	// server: enough for a burst of misses (every rendition's next segment
	// and playlist at once) without reconnecting.
	maxIdleConnsPerServer = 64
	// maxIdleBlockingConnsPerServer is the same for requests the server
	// may hold (blocking playlists, parts not written yet): each stream
	// watched has a few in flight at once (per rendition a playlist and
	// a part, with and without _HLS_skip), so a server of many streams
	// has many, and reconnecting for each would cost a handshake per part.
	maxIdleBlockingConnsPerServer = 512
)

func (o ClusterOptions) withDefaults() ClusterOptions {
	o.Options = o.Options.withDefaults()
	if o.CacheBytes <= 0 {
		o.CacheBytes = defaultCacheBytes
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = defaultFetchTimeout
	}
	if o.routeTTL <= 0 {
		o.routeTTL = routeTTL
	}
	if o.routeTimeout <= 0 {
		o.routeTimeout = routeTimeout
	}
	return o
}

// Cluster is the origin of a cluster: it serves the same URLs, names and
// headers as a local Handler, but reads each live HLS file from the server
// that holds the stream, found through a Router, and keeps what it fetched
// in a cache bounded by bytes (least recently used out first):
//
//   - segments, parts and init sections until evicted, since their names
//     are never reused;
//   - media playlists for half their target duration (of a low-latency
//     one, half its part target), at most 1 s;
//   - answers to blocking playlist requests for one target duration,
//     keyed by their directives in canonical form;
//   - master playlists for 5 s; a 404, or a stream with no route, for 1 s
//     (a part's 404 is not kept: it may be written a moment later).
//
// Viewers asking at once for a file that is not cached wait for one
// upstream request. Requests the server may hold (a blocking playlist
// request, a part not written yet) are forwarded with the delivery
// directives alone, in canonical form, on connections of their own whose
// timeouts exceed the longest hold; the server's 400 (too far ahead) and
// 503 (held too long) reach the viewer. A server that does not answer within the timeouts
// gets its viewers a 503, and its route is forgotten so that the next
// request asks the Router again.
//
// The registry is not a hard dependency of playback: while the Router
// fails (Redis is away), a stream keeps the server it was last found on
// (a stale route, counted in ClusterStats), its viewers never wait for
// the Router, and the Router is asked again in the background every
// routeTTL until it names a server. A stale route ends when its server
// answers 404 for a playlist or cannot be reached. Only streams nobody
// here watched before the Router failed get 503. It is safe for
// concurrent use.
type Cluster struct {
	h      *Handler
	router Router
	client *http.Client
	// blockingClient fetches what the server may hold up to
	// maxBlockWait: its timeouts are the client's plus that.
	blockingClient *http.Client
	log            *slog.Logger
	cache          *cache
	routes         routeCache
	// routeTTL and routeTimeout are ClusterOptions'.
	routeTTL, routeTimeout time.Duration
	flights                flights[*cacheEntry]
	stats                  clusterCounters
	live                   liveStreams

	// ctx bounds every upstream request and Router call: the viewer who
	// started a fetch may leave, but others wait for it. Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	// fills counts the fetching and route-checking goroutines, which
	// Close waits for; closed, under mu, stops new ones.
	mu     sync.Mutex
	closed bool
	fills  sync.WaitGroup
	// routerDownSince is when the Router began failing (zero: it
	// answers), under mu: a registry outage is logged once.
	routerDownSince time.Time
}

var _ http.Handler = (*Cluster)(nil)

// NewCluster returns a Cluster reading live HLS from the servers that
// router names. Close it to stop its fetches and close its connections.
func NewCluster(router Router, opts ClusterOptions) *Cluster {
	opts = opts.withDefaults()
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil, // servers' internal addresses are never reached through HTTP_PROXY
		DialContext:           dialer.DialContext,
		MaxIdleConns:          0, // bounded per server instead
		MaxIdleConnsPerHost:   maxIdleConnsPerServer,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: opts.FetchTimeout,
		DisableCompression:    true, // segments do not compress; playlists are small
	}
	blocking := transport.Clone()
	blocking.ResponseHeaderTimeout = opts.FetchTimeout + maxBlockWait
	blocking.MaxIdleConnsPerHost = maxIdleBlockingConnsPerServer
	// A server answers its files, never a redirect to elsewhere.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		router: router,
		client: &http.Client{Transport: transport, Timeout: opts.FetchTimeout, CheckRedirect: noRedirect},
		blockingClient: &http.Client{
			Transport:     blocking,
			Timeout:       opts.FetchTimeout + maxBlockWait,
			CheckRedirect: noRedirect,
		},
		log:      opts.Logger,
		cache:    newCache(opts.CacheBytes),
		routeTTL: opts.routeTTL, routeTimeout: opts.routeTimeout,
		ctx:    ctx,
		cancel: cancel,
	}
	c.h = newHandler(c.liveFile, opts.Options)
	return c
}

// ServeHTTP serves r as a local Handler does.
func (c *Cluster) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.h.ServeHTTP(w, r) }

// Close cancels the fetches in flight (their viewers get 503), waits for
// them to end and closes the idle connections to servers. Requests served
// after Close fetch nothing and get 503 unless cached.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.fills.Wait()
	c.client.CloseIdleConnections()
	c.blockingClient.CloseIdleConnections()
	return nil
}

// liveFile is the Cluster's liveSource: the cache, or the one fetch in
// flight for the same file, or a new fetch. A blocking playlist request
// is keyed by its directives in their canonical form, so that viewers
// waiting for the same part of the same rendition share one upstream
// request, held by the server, and its answer.
func (c *Cluster) liveFile(ctx context.Context, req liveRequest) (hlsFile, error) {
	key := req.pid + "/" + req.name()
	if q := req.block.encode(); q != "" {
		key += "?" + q
	}
	if e, ok := c.cache.get(key, time.Now()); ok {
		c.stats.hits.Add(1)
		return e.result()
	}
	f, leader := c.flights.join(key)
	if leader {
		c.startFill(f, key, req)
	} else {
		c.stats.coalesced.Add(1)
	}
	select {
	case <-f.done:
		if f.err != nil {
			return hlsFile{}, f.err
		}
		return f.val.result()
	case <-ctx.Done():
		return hlsFile{}, ctx.Err()
	}
}

// startFill runs f's fetch in a goroutine of its own, so that the fetch
// goes on for the others waiting when the viewer who started it leaves.
func (c *Cluster) startFill(f *flight[*cacheEntry], key string, req liveRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.flights.finish(key, f, nil, fmt.Errorf("%w: the origin is closed", errUnavailable))
		return
	}
	c.fills.Add(1)
	go func() {
		defer c.fills.Done()
		e, err := c.fill(key, req)
		c.flights.finish(key, f, e, err)
	}()
}

// mayBlock reports whether the server may hold req: a blocking playlist
// request, or an fMP4 segment or part, which may not be written yet.
func (req liveRequest) mayBlock() bool { return req.block.blocking || req.media.waitable }

// fill fetches the file req asks for from the server holding its stream,
// caches the answer and returns it. It runs once per flight.
func (c *Cluster) fill(key string, req liveRequest) (*cacheEntry, error) {
	// A flight that ended between the caller's cache miss and its joining
	// has just cached the file.
	if e, ok := c.cache.peek(key, time.Now()); ok {
		c.stats.hits.Add(1)
		return e, nil
	}
	pid, name := req.pid, req.name()
	kind := kindOf(name)
	addr, stale, err := c.route(pid)
	switch {
	case errors.Is(err, ErrNoRoute) && kind != kindSegment && c.live.moving(pid, time.Now()):
		return nil, errMoving
	case errors.Is(err, ErrNoRoute):
		return c.cache.put(key, nil, time.Now().Add(negativeTTL)), nil
	case err != nil:
		return nil, err
	}
	c.stats.fetches[kind].Add(1)
	if req.mayBlock() {
		c.stats.blockingFetches.Add(1)
	}
	data, status, err := c.fetch(addr, req)
	switch {
	case err != nil:
		c.stats.fetchErrors.Add(1)
		c.routes.forget(pid, addr)
		if c.ctx.Err() == nil {
			c.log.Warn("fetch live HLS from its server", "playback_id", pid, "name", name, "server", addr, "err", err)
		}
		return nil, fmt.Errorf("%w: %v", errUnavailable, err)
	case status == http.StatusNotFound && req.media.waitable:
		// A part asked for too early, or after the end: not cached, so
		// that one asked for again once written is fetched.
		return &cacheEntry{key: key, notFound: true}, nil
	case status == http.StatusNotFound:
		if stale && kind != kindSegment {
			// The server no longer has the stream: nothing is left
			// to route it by until the registry names a server.
			c.routes.forget(pid, addr)
		}
		return c.cache.put(key, nil, time.Now().Add(negativeTTL)), nil
	case status == http.StatusBadRequest && req.block.blocking:
		// Too far ahead of the playlist (the query sent is canonical,
		// never malformed): the viewer's 400.
		return nil, errTooFar
	case status == http.StatusServiceUnavailable && req.mayBlock():
		// The server held the request three target durations and the
		// stream did not move: a stalled stream, not a failing server.
		c.log.Debug("blocking request timed out on its server", "playback_id", pid, "name", name, "server", addr)
		return nil, fmt.Errorf("%w: the server's blocking request timed out", errUnavailable)
	case status != http.StatusOK:
		c.log.Warn("fetch live HLS from its server", "playback_id", pid, "name", name, "server", addr, "status", status)
		return nil, fmt.Errorf("%w: server answered %d", errUnavailable, status)
	}
	var expires time.Time // segments: until evicted
	switch kind {
	case kindMaster:
		expires = time.Now().Add(masterTTL)
	case kindPlaylist:
		if req.block.blocking && canBlockReload(data) {
			expires = time.Now().Add(blockingTTL(data))
		} else {
			expires = time.Now().Add(playlistTTL(data))
		}
		c.live.saw(pid, data, time.Now())
	}
	return c.cache.put(key, data, expires), nil
}

// fetch GETs the file req asks for from the server at addr, with its
// delivery directives in canonical form, and returns the body of a 200,
// or the status of any other answer. err is the server not answering in
// time, or answering a body too large or cut short.
func (c *Cluster) fetch(addr string, req liveRequest) (data []byte, status int, err error) {
	u := url.URL{Scheme: "http", Host: addr, Path: "/hls/" + req.pid + "/" + req.name(), RawQuery: req.block.encode()}
	hreq, err := http.NewRequestWithContext(c.ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	client := c.client
	if req.mayBlock() {
		client = c.blockingClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Read a short error body to the end so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, resp.StatusCode, nil
	}
	if resp.ContentLength > maxFileBytes {
		return nil, 0, fmt.Errorf("server answered %d bytes, more than %d", resp.ContentLength, maxFileBytes)
	}
	if resp.ContentLength >= 0 {
		data = make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, data); err != nil {
			return nil, 0, fmt.Errorf("read the body: %w", err)
		}
		return data, resp.StatusCode, nil
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxFileBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read the body: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, 0, fmt.Errorf("server answered more than %d bytes", maxFileBytes)
	}
	return data, resp.StatusCode, nil
}
