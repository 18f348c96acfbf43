package origin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

const (
	// routeSweepEvery is how often a put clears the routes of streams that
	// nobody asked for lately, so that the table holds about the streams
	// being watched rather than every stream ever watched.
	routeSweepEvery = 10 * routeTTL
	// lastKnownIdle is how long a stream's last known server is kept
	// after its last viewer's request, to fall back on while the Router
	// fails.
	lastKnownIdle = time.Minute
)

// route is where a stream was found; addr "" records that the Router
// had no route for it.
type route struct {
	addr string
	// expires is when the Router is asked again; until then addr is used
	// as it is.
	expires time.Time
	// stale says the Router could not confirm addr since: it failed, or
	// has had no route for the stream since it failed (the server may not
	// have set its route again yet). addr is used all the same, and the
	// Router asked again in the background every routeTTL, until it names
	// a server again, or addr's server answers 404 for a playlist or
	// cannot be reached.
	stale bool
	// used is when a request last asked for the route.
	used time.Time
}

// routeCache keeps each stream's server for routeTTL after the Router
// named it, and its absence for negativeTTL; beyond, it keeps a stream's
// last known server while viewers ask for it, to fall back on while the
// Router fails. It coalesces concurrent lookups of one playback id. It is
// safe for concurrent use.
type routeCache struct {
	flights flights[routeAnswer]

	mu        sync.Mutex
	routes    map[string]route
	nextSweep time.Time
}

// routeAnswer is what a lookup leaves its waiters: the server to fetch
// from (maybe a stale one), or the error to answer.
type routeAnswer struct {
	addr  string
	stale bool
}

// get returns pid's route, expired or not, and notes that it was used.
func (c *routeCache) get(pid string, now time.Time) (route, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.routes[pid]
	if ok {
		r.used = now
		c.routes[pid] = r
	}
	return r, ok
}

// put records r as pid's route, and sweeps the table now and then.
func (c *routeCache) put(pid string, r route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routes == nil {
		c.routes = map[string]route{}
	}
	now := time.Now()
	if now.After(c.nextSweep) {
		for id, old := range c.routes {
			if old.addr == "" && !now.Before(old.expires) || now.Sub(old.used) > lastKnownIdle {
				delete(c.routes, id)
			}
		}
		c.nextSweep = now.Add(routeSweepEvery)
	}
	if r.used.IsZero() {
		r.used = now
	}
	c.routes[pid] = r
}

// forget drops pid's route if it still names addr: the server did not
// answer, so the next request asks the Router, which may name another
// (a route that changed meanwhile is kept). A stale route is dropped
// too: there is nothing left to fall back on.
func (c *routeCache) forget(pid, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.routes[pid]; ok && r.addr == addr {
		delete(c.routes, pid)
	}
}

// stale counts the routes used without the Router's confirmation now.
func (c *routeCache) stale() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.routes {
		if r.stale {
			n++
		}
	}
	return n
}

// route returns the address of pid's server, or ErrNoRoute, from the
// route cache or, once for all callers at the same time, from the Router.
// stale says the Router could not confirm it: while the Router fails, a
// stream keeps the server it was last found on, and the Router is asked
// again in the background, the caller never waiting for it (only the
// first lookup to find the Router failing waits, up to a quarter of
// routeTimeout).
func (c *Cluster) route(pid string) (addr string, stale bool, err error) {
	now := time.Now()
	if r, ok := c.routes.get(pid, now); ok {
		fresh := now.Before(r.expires)
		switch {
		case fresh && !r.stale:
			if r.addr == "" {
				return "", false, ErrNoRoute
			}
			return r.addr, false, nil
		case r.stale || r.addr != "" && c.routerFailing():
			// While the Router is known to fail, no viewer waits
			// for it to fail once more.
			c.stats.staleRouteUses.Add(1)
			if !fresh {
				c.recheck(pid)
			}
			return r.addr, true, nil
		}
	}
	f, leader := c.routes.flights.join(pid)
	if leader {
		a, err := c.resolve(pid)
		c.routes.flights.finish(pid, f, a, err)
	}
	<-f.done
	if f.err != nil {
		return "", false, f.err
	}
	if f.val.stale {
		c.stats.staleRouteUses.Add(1)
	}
	return f.val.addr, f.val.stale, nil
}

// recheck asks the Router for pid's server in the background, unless a
// lookup of pid is under way or the Cluster is closed.
func (c *Cluster) recheck(pid string) {
	f, leader := c.routes.flights.join(pid)
	if !leader {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.routes.flights.finish(pid, f, routeAnswer{}, fmt.Errorf("%w: the origin is closed", errUnavailable))
		return
	}
	c.fills.Add(1)
	go func() {
		defer c.fills.Done()
		a, err := c.resolve(pid)
		c.routes.flights.finish(pid, f, a, err)
	}()
}

// resolve asks the Router for pid's server and records the answer. When
// the Router fails, or says there is no route for a stream whose route
// is stale already, the last known server stays, stale.
func (c *Cluster) resolve(pid string) (routeAnswer, error) {
	last, known := c.routes.get(pid, time.Now())
	known = known && last.addr != ""
	timeout := c.routeTimeout
	if known {
		// A healthy registry answers in a millisecond; one that does
		// not answer in a fraction of a second has the stream served
		// from its last known server meanwhile.
		timeout = c.routeTimeout / 4
	}
	addr, err := c.lookup(pid, timeout)
	now := time.Now()
	switch {
	case err == nil:
		c.routes.put(pid, route{addr: addr, expires: now.Add(c.routeTTL)})
		if known && last.stale {
			c.log.Debug("live route confirmed again", "playback_id", pid, "server_changed", addr != last.addr)
		}
		c.registryAnswered()
		return routeAnswer{addr: addr}, nil
	case errors.Is(err, ErrNoRoute) && known && last.stale:
		// The registry is back but the server has not set its route
		// again yet, or the stream ended meanwhile: the server knows.
		c.routes.put(pid, route{addr: last.addr, expires: now.Add(c.routeTTL), stale: true, used: last.used})
		c.registryAnswered()
		return routeAnswer{addr: last.addr, stale: true}, nil
	case errors.Is(err, ErrNoRoute):
		c.routes.put(pid, route{expires: now.Add(negativeTTL)})
		c.registryAnswered()
		return routeAnswer{}, ErrNoRoute
	case c.ctx.Err() != nil:
		return routeAnswer{}, fmt.Errorf("%w: %v", errUnavailable, err)
	case known:
		c.routes.put(pid, route{addr: last.addr, expires: now.Add(c.routeTTL), stale: true, used: last.used})
		c.registryFailed(err)
		if !last.stale {
			c.log.Debug("live route kept without the registry", "playback_id", pid, "err", err)
		}
		return routeAnswer{addr: last.addr, stale: true}, nil
	default:
		c.registryFailed(err)
		c.log.Warn("find the server of a live stream", "playback_id", pid, "err", err)
		return routeAnswer{}, fmt.Errorf("%w: %v", errUnavailable, err)
	}
}

// registryFailed logs, once until it answers again, that the Router
// failed.
func (c *Cluster) registryFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routerDownSince.IsZero() {
		c.routerDownSince = time.Now()
		c.log.Warn("registry unreachable: streams already routed keep their last known server", "err", err)
	}
}

// routerFailing reports whether the Router's last answer was a failure.
func (c *Cluster) routerFailing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.routerDownSince.IsZero()
}

// registryAnswered logs that the Router answers again after failing.
func (c *Cluster) registryAnswered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.routerDownSince.IsZero() {
		c.log.Info("registry answers again", "failed_for", time.Since(c.routerDownSince).Round(time.Millisecond))
		c.routerDownSince = time.Time{}
	}
}

// lookup asks the Router for pid's server, waiting up to timeout, and
// checks that the answer is a host and port: anything else would change
// the URL fetched.
func (c *Cluster) lookup(pid string, timeout time.Duration) (string, error) {
	c.stats.routeLookups.Add(1)
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	addr, err := c.router.Route(ctx, pid)
	if err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" || strings.ContainsAny(addr, "/?#@ ") {
		return "", fmt.Errorf("the route names %q, not a host:port", addr)
	}
	return addr, nil
}
