package ingest

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestFailureDelays(t *testing.T) {
	c := AuthFailures{Free: 3, Delay: time.Second, MaxDelay: 5 * time.Second, Window: time.Minute}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := c.delay(i + 1); got != w {
			t.Errorf("failure %d: delay %v, want %v", i+1, got, w)
		}
	}
	if got := c.delay(1 << 20); got != c.MaxDelay {
		t.Errorf("a millionth failure waits %v, want MaxDelay", got)
	}
	c.Free = -1
	if got := c.delay(100); got != 0 {
		t.Errorf("with Free < 0: delay %v", got)
	}
}

// TestFailureLimiter: failures count per address until Window has passed
// since the last one; other addresses are unaffected.
func TestFailureLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFailureLimiter(AuthFailures{Free: 2, Delay: time.Second, MaxDelay: 8 * time.Second, Window: time.Minute})
		a := netip.MustParseAddr("192.0.2.1")
		var got []time.Duration
		for range 5 {
			got = append(got, l.fail(a, time.Now()))
			time.Sleep(30 * time.Second) // within the window of the last failure
		}
		want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("delays %v, want %v", got, want)
				break
			}
		}
		if d := l.fail(netip.MustParseAddr("192.0.2.2"), time.Now()); d != 0 {
			t.Errorf("another address's first failure waits %v", d)
		}
		if d := l.fail(netip.Addr{}, time.Now()); d != 0 {
			t.Errorf("an unknown address waits %v", d)
		}
		time.Sleep(time.Minute) // the window after the last failure
		if d := l.fail(a, time.Now()); d != 0 {
			t.Errorf("after a quiet window: %v, want a fresh count", d)
		}
	})
}

// TestFailureLimiterIPv6 counts an IPv6 /64 as one address: a host has
// all of it.
func TestFailureLimiterIPv6(t *testing.T) {
	now := time.Now()
	l := newFailureLimiter(AuthFailures{Free: 2, Delay: time.Second, MaxDelay: time.Second, Window: time.Minute})
	l.fail(netip.MustParseAddr("2001:db8::1"), now)
	l.fail(netip.MustParseAddr("2001:db8::ffff:2"), now)
	if d := l.fail(netip.MustParseAddr("2001:db8::3"), now); d == 0 {
		t.Error("another address of the /64 is not delayed")
	}
	if d := l.fail(netip.MustParseAddr("2001:db8:0:1::1"), now); d != 0 {
		t.Error("the next /64 is delayed")
	}
	l.fail(netip.MustParseAddr("::ffff:192.0.2.9"), now)
	l.fail(netip.MustParseAddr("192.0.2.9"), now)
	if d := l.fail(netip.MustParseAddr("192.0.2.9"), now); d == 0 {
		t.Error("an IPv4-mapped address is counted apart from its IPv4 address")
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	now := time.Now()
	l := newFailureLimiter(AuthFailures{Free: 1, Delay: time.Second, MaxDelay: time.Second, Window: time.Minute})
	for i := range maxTrackedAddrs + 100 {
		l.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := len(l.addrs); n > maxTrackedAddrs {
		t.Errorf("%d addresses tracked, limit %d", n, maxTrackedAddrs)
	}
	off := newFailureLimiter(AuthFailures{Free: -1, Delay: time.Second, MaxDelay: time.Second, Window: time.Minute})
	a := netip.MustParseAddr("192.0.2.1")
	for range 10 {
		if d := off.fail(a, now); d != 0 {
			t.Fatalf("Free < 0: delay %v", d)
		}
	}
	if len(off.addrs) != 0 {
		t.Error("Free < 0 still tracks addresses")
	}
}
