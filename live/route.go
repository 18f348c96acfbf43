package live

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Routes announces live streams to the origins of a cluster (the server
// role adapts registry.RedisStore's live routes to it). Its methods are
// called from a goroutine of the stream's own, never from the pipeline, so
// a slow registry delays the route, not the ladder.
type Routes interface {
	// SetRoute says, for ttl, that this server holds the live HLS of
	// playbackID, which started at since. It is called again before ttl
	// passes while the stream is live. It may refuse (an error) to
	// replace the route of a newer stream of the channel on another
	// server.
	SetRoute(ctx context.Context, playbackID string, since time.Time, ttl time.Duration) error
	// RemoveRoute withdraws the route of playbackID if it still names
	// this server: a publisher that reconnected elsewhere keeps its new
	// route.
	RemoveRoute(ctx context.Context, playbackID string) error
}

const (
	// defaultRouteTTL is how long a route outlives a server that died
	// without removing it: origins stop routing there within it.
	defaultRouteTTL = 10 * time.Second
	// routeCallTimeout bounds one call to Routes, so that a registry that
	// does not answer never holds up a stream's end.
	routeCallTimeout = 3 * time.Second
)

// announcer keeps one stream's route: set once every rendition has listed
// its first segment (an origin must never be routed to a server with
// nothing to serve yet), refreshed every third of the TTL while the stream
// is live, removed when it ends.
type announcer struct {
	routes Routes
	pid    string
	since  time.Time
	ttl    time.Duration
	want   int // renditions that must list a segment first
	log    *slog.Logger

	mu      sync.Mutex
	listed  map[string]bool
	stopped bool
	stop    chan struct{}
	done    chan struct{} // nil until the route is first set
}

// segment notes that rendition listed a segment, and starts announcing
// once every rendition has.
func (a *announcer) segment(rendition string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done != nil || a.stopped {
		return
	}
	if a.listed == nil {
		a.listed = map[string]bool{}
	}
	a.listed[rendition] = true
	if len(a.listed) < a.want {
		return
	}
	a.stop, a.done = make(chan struct{}), make(chan struct{})
	go a.run()
}

// end stops the refreshes and removes the route, and returns once that is
// done or has failed. Later calls do nothing.
func (a *announcer) end() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	done := a.done
	a.mu.Unlock()
	if done == nil {
		return // never announced
	}
	close(a.stop)
	<-done
}

func (a *announcer) run() {
	defer close(a.done)
	tick := time.NewTicker(a.ttl / 3)
	defer tick.Stop()
	failing, first := false, true
	for {
		ctx, cancel := context.WithTimeout(context.Background(), routeCallTimeout)
		err := a.routes.SetRoute(ctx, a.pid, a.since, a.ttl)
		cancel()
		switch {
		case err != nil && !failing:
			a.log.Warn("live route not set: origins cannot find the stream until it is", "err", err)
		case err == nil && failing:
			a.log.Info("live route set again")
		case err == nil && first:
			a.log.Info("live route set", "ttl", a.ttl)
		}
		failing, first = err != nil, false
		select {
		case <-tick.C:
		case <-a.stop:
			ctx, cancel := context.WithTimeout(context.Background(), routeCallTimeout)
			defer cancel()
			if err := a.routes.RemoveRoute(ctx, a.pid); err != nil {
				a.log.Warn("live route not removed: it expires by itself", "err", err, "ttl", a.ttl)
			}
			return
		}
	}
}
