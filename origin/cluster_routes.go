package origin

import (
	"sync"
	"time"
)

// routeSweepEvery is how often a put clears the expired routes of streams
// that nobody asked for since, so that the table holds about the streams
// being watched rather than every stream ever watched.
const routeSweepEvery = 10 * routeTTL

// route is where a stream was found; addr "" records that the Router
// had no route for it.
type route struct {
	addr    string
	expires time.Time
}

// routeCache keeps each stream's server for routeTTL after the Router
// named it, and its absence for negativeTTL, and coalesces concurrent lookups of one playback id. It is
// safe for concurrent use.
type routeCache struct {
	flights flights[string]

	mu        sync.Mutex
	routes    map[string]route
	nextSweep time.Time
}

// get returns pid's server ("" when it has none) unless its route has
// expired.
func (c *routeCache) get(pid string, now time.Time) (addr string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.routes[pid]
	if !ok || !now.Before(r.expires) {
		return "", false
	}
	return r.addr, true
}

// put records that addr ("" for none) holds pid's stream until expires.
func (c *routeCache) put(pid, addr string, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routes == nil {
		c.routes = map[string]route{}
	}
	now := time.Now()
	if now.After(c.nextSweep) {
		for id, r := range c.routes {
			if !now.Before(r.expires) {
				delete(c.routes, id)
			}
		}
		c.nextSweep = now.Add(routeSweepEvery)
	}
	c.routes[pid] = route{addr: addr, expires: expires}
}

// forget drops pid's route if it still names addr: the server did not
// answer, so the next request asks the Router, which may name another
// (a route that changed meanwhile is kept).
func (c *routeCache) forget(pid, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.routes[pid]; ok && r.addr == addr {
		delete(c.routes, pid)
	}
}
