package ingest

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFailureLimiter(AuthFailures{Max: 3, Window: time.Minute})
		a := netip.MustParseAddr("192.0.2.1")
		allowed := func(a netip.Addr) bool { ok, _ := l.allowed(a, time.Now()); return ok }
		for i := range 3 {
			if !allowed(a) {
				t.Fatalf("refused after %d failures", i)
			}
			l.fail(a, time.Now())
			time.Sleep(10 * time.Second)
		}
		if ok, first := l.allowed(a, time.Now()); ok || !first {
			t.Errorf("after 3 failures: allowed %v, first refusal %v", ok, first)
		}
		if ok, first := l.allowed(a, time.Now()); ok || first {
			t.Errorf("again: allowed %v, first refusal %v", ok, first)
		}
		if !allowed(netip.MustParseAddr("192.0.2.2")) || !allowed(netip.Addr{}) {
			t.Error("another address is refused")
		}
		time.Sleep(30 * time.Second) // the window began at the first failure, 60 s ago
		if !allowed(a) {
			t.Error("still refused after the window")
		}
		l.fail(a, time.Now())
		if !allowed(a) {
			t.Error("a new window starts counting from one")
		}
	})
}

// TestFailureLimiterIPv6 counts an IPv6 /64 as one address: a host has
// all of it.
func TestFailureLimiterIPv6(t *testing.T) {
	now := time.Now()
	l := newFailureLimiter(AuthFailures{Max: 2, Window: time.Minute})
	l.fail(netip.MustParseAddr("2001:db8::1"), now)
	l.fail(netip.MustParseAddr("2001:db8::ffff:2"), now)
	allowed := func(s string) bool { ok, _ := l.allowed(netip.MustParseAddr(s), now); return ok }
	if allowed("2001:db8::3") {
		t.Error("another address of the /64 is allowed")
	}
	if !allowed("2001:db8:0:1::1") {
		t.Error("the next /64 is refused")
	}
	l.fail(netip.MustParseAddr("::ffff:192.0.2.9"), now)
	l.fail(netip.MustParseAddr("192.0.2.9"), now)
	if allowed("192.0.2.9") {
		t.Error("an IPv4-mapped address is counted apart from its IPv4 address")
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	now := time.Now()
	l := newFailureLimiter(AuthFailures{Max: 1, Window: time.Minute})
	for i := range maxTrackedAddrs + 100 {
		l.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := len(l.addrs); n > maxTrackedAddrs {
		t.Errorf("%d addresses tracked, limit %d", n, maxTrackedAddrs)
	}
	off := newFailureLimiter(AuthFailures{Max: -1, Window: time.Minute})
	a := netip.MustParseAddr("192.0.2.1")
	for range 10 {
		off.fail(a, now)
	}
	if ok, _ := off.allowed(a, now); !ok || len(off.addrs) != 0 {
		t.Error("a negative Max does not turn the limit off")
	}
}
