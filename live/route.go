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
	// passes while the stream is live, and sooner after a failure. It may
	// refuse (an error) to replace the route of a newer, live stream of
	// the channel on another server; an ended route never refuses it.
	SetRoute(ctx context.Context, playbackID string, since time.Time, ttl time.Duration) error
	// EndRoute says that the stream of playbackID that started at since
	// has ended: its playlists have their EXT-X-ENDLIST. The route stays,
	// marked ended, for as long as this server keeps ended streams (the
	// Manager's Config.Grace: the implementation is given the same
	// duration), so that viewers behind an origin get the end as those of
	// a single server do, and then a 404. A route of a newer stream of the
	// channel, here or on another server, is left alone.
	EndRoute(ctx context.Context, playbackID string, since time.Time) error
}

const (
	// defaultRouteTTL is how long a route outlives a server that died
	// without removing it: origins stop routing there within it.
	defaultRouteTTL = 10 * time.Second
	// routeCallTimeout bounds one call to Routes, so that a registry that
	// does not answer never holds up a stream's end.
	routeCallTimeout = 3 * time.Second
	// routeRetry is how soon a route that could not be set is tried
	// again (when sooner than its refresh): a registry that comes back
	// routes origins to the stream again within about a second.
	routeRetry = time.Second
)

// announcer keeps one stream's route: set once every rendition has listed
// its first segment (an origin must never be routed to a server with
// nothing to serve yet), refreshed every third of the TTL while the stream
// is live (every routeRetry while that fails), marked ended when it ends.
// A registry that fails costs the stream nothing but its route: the
// announcer logs and tries again.
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

// end stops the refreshes and marks the route ended, and returns once that
// is done or has failed. Later calls do nothing.
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
	var failingSince time.Time
	first := true
	for {
		ctx, cancel := context.WithTimeout(context.Background(), routeCallTimeout)
		err := a.routes.SetRoute(ctx, a.pid, a.since, a.ttl)
		cancel()
		switch {
		case err != nil && failingSince.IsZero():
			failingSince = time.Now()
			a.log.Warn("live route not set: origins cannot find the stream until it is; retrying", "err", err, "retry_in", a.retryIn(true))
		case err == nil && !failingSince.IsZero():
			a.log.Info("live route set again", "failed_for", time.Since(failingSince).Round(time.Millisecond))
			failingSince = time.Time{}
		case err == nil && first:
			a.log.Info("live route set", "ttl", a.ttl)
		}
		first = false
		t := time.NewTimer(a.retryIn(err != nil))
		select {
		case <-t.C:
		case <-a.stop:
			t.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), routeCallTimeout)
			defer cancel()
			if err := a.routes.EndRoute(ctx, a.pid, a.since); err != nil {
				a.log.Warn("live route not marked ended: origins' viewers may miss the end of the stream", "err", err)
			}
			return
		}
	}
}

// retryIn is how long the announcer waits before its next SetRoute.
func (a *announcer) retryIn(failed bool) time.Duration {
	if failed {
		return min(a.ttl/3, routeRetry)
	}
	return a.ttl / 3
}
