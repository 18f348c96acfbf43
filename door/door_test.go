package door

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

type reason uint8

const (
	tooMany reason = iota
	badHandshake
)

// TestRefusalLogBounded: one line per reason and address a minute, with
// the count since the last; addresses past the bound share a line.
func TestRefusalLogBounded(t *testing.T) {
	var r RefusalLog[reason]
	now := time.Now()
	a := netip.MustParsePrefix("192.0.2.1/32")
	if n, ok := r.Note(tooMany, a, now); !ok || n != 1 {
		t.Errorf("first refusal: log %v with count %d", ok, n)
	}
	for i := range 100 {
		if _, ok := r.Note(tooMany, a, now.Add(time.Duration(i)*time.Millisecond)); ok {
			t.Fatal("a second line within the minute")
		}
	}
	if _, ok := r.Note(badHandshake, a, now); !ok {
		t.Error("another reason shares the address's line")
	}
	if n, ok := r.Note(tooMany, a, now.Add(time.Minute)); !ok || n != 101 {
		t.Errorf("a minute later: log %v with count %d, want 101", ok, n)
	}
	lines := 0
	for i := range 3 * MaxRefusalLogAddrs {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 32)
		if _, ok := r.Note(tooMany, p, now); ok {
			lines++
		}
	}
	if len(r.lines) > MaxRefusalLogAddrs+3 || lines > MaxRefusalLogAddrs+1 {
		t.Errorf("%d addresses tracked, %d lines: unbounded", len(r.lines), lines)
	}
}

// TestConns: an address is capped at max open connections and may open
// another once one is released; unknown addresses and max < 0 are not
// capped.
func TestConns(t *testing.T) {
	c := NewConns(2)
	a := Prefix(netip.MustParseAddr("192.0.2.1"))
	if !c.Acquire(a) || !c.Acquire(a) || c.Acquire(a) {
		t.Fatal("want two connections of the address, not three")
	}
	c.Release(a)
	if !c.Acquire(a) || c.Open(a) != 2 {
		t.Errorf("after a release: %d open, want another admitted (2)", c.Open(a))
	}
	c.Release(a)
	c.Release(a)
	if c.Addrs() != 0 {
		t.Errorf("%d addresses counted with none open", c.Addrs())
	}
	for range 3 {
		if !c.Acquire(netip.Prefix{}) {
			t.Fatal("a connection of unknown address capped")
		}
	}
	u := NewConns(-1)
	for range 100 {
		if !u.Acquire(a) {
			t.Fatal("capped with max < 0")
		}
	}
}

// TestPrefix: IPv4 (mapped too) is one host per address, IPv6 one per /64.
func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":           "192.0.2.1/32",
		"::ffff:192.0.2.1":    "192.0.2.1/32",
		"2001:db8:1:2:3:4::5": "2001:db8:1:2::/64",
	} {
		if got := Prefix(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("Prefix(%s) = %s, want %s", in, got, want)
		}
	}
	if got := SocketPrefix(&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}); got.String() != "2001:db8::/64" {
		t.Errorf("SocketPrefix = %s", got)
	}
	if SocketPrefix(&net.UnixAddr{Name: "x"}).IsValid() {
		t.Error("a Unix socket's address has a prefix")
	}
	if got := PrefixString(netip.Prefix{}); got != "other addresses" {
		t.Errorf("PrefixString(invalid) = %q", got)
	}
	if got := PrefixString(netip.MustParsePrefix("192.0.2.1/32")); got != "192.0.2.1" {
		t.Errorf("PrefixString(IPv4 host) = %q", got)
	}
}
