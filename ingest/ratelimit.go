package ingest

import (
	"net/netip"
	"sync"
	"time"
)

// maxTrackedAddrs bounds the failure table. When it is full, expired
// entries go first, then arbitrary ones: an attacker with that many
// addresses gets a few more guesses, and the table stays small.
const maxTrackedAddrs = 1 << 16

// failureLimiter counts failed authentications per address (an IPv4
// address, an IPv6 /64: one host's share) in a window that starts at the
// first failure. It is safe for concurrent use.
type failureLimiter struct {
	max    int // ≤ 0: no limit
	window time.Duration

	mu    sync.Mutex
	addrs map[netip.Prefix]failures
}

type failures struct {
	count   int
	since   time.Time
	refused bool // a refusal was reported in this window
}

func newFailureLimiter(c AuthFailures) *failureLimiter {
	return &failureLimiter{max: c.Max, window: c.Window, addrs: map[netip.Prefix]failures{}}
}

// allowed reports whether addr may try to authenticate now and, when it
// may not, whether this is the window's first refusal (worth a warning;
// the rest are an attacker's retries).
func (l *failureLimiter) allowed(addr netip.Addr, now time.Time) (ok, first bool) {
	if l.max <= 0 || !addr.IsValid() {
		return true, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := prefix(addr)
	f, found := l.addrs[p]
	if !found || now.Sub(f.since) >= l.window || f.count < l.max {
		return true, false
	}
	first = !f.refused
	f.refused = true
	l.addrs[p] = f
	return false, first
}

// fail records a failed authentication from addr.
func (l *failureLimiter) fail(addr netip.Addr, now time.Time) {
	if l.max <= 0 || !addr.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := prefix(addr)
	f, ok := l.addrs[p]
	if !ok || now.Sub(f.since) >= l.window {
		if !ok && len(l.addrs) >= maxTrackedAddrs {
			l.evict(now)
		}
		f = failures{since: now}
	}
	f.count++
	l.addrs[p] = f
}

// evict makes room in the full table.
func (l *failureLimiter) evict(now time.Time) {
	for p, f := range l.addrs {
		if now.Sub(f.since) >= l.window {
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

func prefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}
