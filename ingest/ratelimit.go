package ingest

import (
	"github.com/livestream/livestream/door"
	"net/netip"
	"sync"
	"time"
)

// maxTrackedAddrs bounds the failure table. When it is full, forgotten
// entries go first, then arbitrary ones: an attacker with that many
// addresses gets a few refusals sooner, and the table stays small.
const maxTrackedAddrs = 1 << 16

// failureLimiter counts failed authentications per address (an IPv4
// address, an IPv6 /64: one host's share) and says how long the refusal
// of each should wait: nothing for the first AuthFailures.Free, then
// AuthFailures.Delay, doubling with each failure up to
// AuthFailures.MaxDelay. An address's failures are forgotten Window after
// its last one. It never refuses anything itself: a right key is never
// held back, whoever shares its address (publishers behind one NAT).
//
// Stream keys are 160-bit random, so guessing one is not the threat; the
// delay protects the CPU (a key lookup, a Redis round trip in a cluster)
// from one address that keeps failing, whose connections each wait
// longer, while the per-address connection cap bounds how many wait at
// once. It is safe for concurrent use.
type failureLimiter struct {
	cfg AuthFailures

	mu    sync.Mutex
	addrs map[netip.Prefix]failures
}

type failures struct {
	count int
	last  time.Time
}

func newFailureLimiter(c AuthFailures) *failureLimiter {
	return &failureLimiter{cfg: c, addrs: map[netip.Prefix]failures{}}
}

// fail records a failed authentication from addr at now and returns how
// long its refusal waits.
func (l *failureLimiter) fail(addr netip.Addr, now time.Time) time.Duration {
	if l.cfg.Free < 0 || !addr.IsValid() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := door.Prefix(addr)
	f, ok := l.addrs[p]
	if !ok || now.Sub(f.last) >= l.cfg.Window {
		if !ok && len(l.addrs) >= maxTrackedAddrs {
			l.evict(now)
		}
		f = failures{}
	}
	f.count++
	f.last = now
	l.addrs[p] = f
	return l.cfg.delay(f.count)
}

// delay is the wait before refusing an address's nth failure, counted
// since its failures were last forgotten.
func (c AuthFailures) delay(n int) time.Duration {
	if c.Free < 0 || n <= c.Free {
		return 0
	}
	d := c.Delay
	for i := c.Free + 1; i < n && d < c.MaxDelay; i++ {
		d *= 2
	}
	return min(d, c.MaxDelay)
}

// evict makes room in the full table.
func (l *failureLimiter) evict(now time.Time) {
	for p, f := range l.addrs {
		if now.Sub(f.last) >= l.cfg.Window {
			delete(l.addrs, p)
		}
	}
	for p := range l.addrs {
		if len(l.addrs) < maxTrackedAddrs {
			break
		}
		delete(l.addrs, p)
	}
}
