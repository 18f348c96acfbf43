package ingest

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestStatsPublishes counts each way a publish is refused, once each, and
// a live publish's drops while it goes on.
func TestStatsPublishes(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.AuthFailures = AuthFailures{Free: 2, Delay: 10 * time.Millisecond, Window: time.Minute}
		c.StartTimeout = time.Minute // the publish below never starts its Sink
	})

	// A publish that sends three frames before its first keyframe: they
	// are dropped, and counted while the publish is live.
	c := dialPublish(t, h.addr, keyAlpha)
	s := h.sink()
	if err := c.video(t, 0, avcSeq(testAVCC)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.video(t, uint32(33*i), avcFrame(false, 0, testSlice)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.srv.Stats().DroppedPackets == 3 }, "3 dropped packets counted")
	if st := h.srv.Stats(); st.ActivePublishes != 1 {
		t.Errorf("ActivePublishes %d while one publishes", st.ActivePublishes)
	}

	refusedPublish(t, h, "live", keyBravo) // wrong app
	h.handler.set(errors.New("channel is already live"), nil)
	refusedPublish(t, h, "stream", keyBravo)
	h.handler.set(nil, nil)
	h.auth.fail(errors.New("dial redis: connection refused"))
	refusedPublish(t, h, "stream", keyBravo)
	h.auth.fail(nil)
	for range 3 { // the third is over AuthFailures.Free: delayed
		refusedPublish(t, h, "stream", wrongKey)
	}

	c.cc.Close()
	if err := s.wait(t); !errors.Is(err, ErrDisconnected) {
		t.Errorf("End(%v) for a connection closed without unpublishing, want ErrDisconnected", err)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.srv.Stats().ActivePublishes == 0 }, "no active publish")
	want := Stats{
		Connections:    7,
		Refused:        RefusedStats{WrongApp: 1, Handler: 1},
		AuthFailures:   AuthFailureStats{UnknownKey: 3, Delayed: 1, Unavailable: 1},
		DroppedPackets: 3,
	}
	if got := h.srv.Stats(); got != want {
		t.Errorf("Stats() = %+v\nwant       %+v", got, want)
	}
}

// TestStatsRefusedConnections counts connections closed over MaxConns and
// without a PROXY header, but not a TCP health check's.
func TestStatsRefusedConnections(t *testing.T) {
	h := newHarness(t, func(c *Config) { slowTimeouts(c); proxied(c); c.MaxConns = 1 })
	first, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool {
		h.srv.mu.Lock()
		defer h.srv.mu.Unlock()
		return len(h.srv.conns) == 1
	}, "the first connection tracked")
	// Refused with a reset, which may reach the dial itself.
	extra, err := net.Dial("tcp", h.addr)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatal(err)
	default:
		defer extra.Close()
		closedWithin(t, extra, 2*time.Second)
	}
	if _, err := first.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, first, 2*time.Second)
	want := Stats{Connections: 2, Refused: RefusedStats{MaxConns: 1, ProxyHeader: 1}}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.srv.Stats() == want }, "the refusals counted")

	// Connect and close without a byte, as a TCP health check does.
	testenv.WaitFor(t, 5*time.Second, func() bool {
		hc, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		hc.Close()
		return strings.Contains(h.logs.String(), "closed before sending a PROXY protocol header")
	}, "a health check seen")
	if got := h.srv.Stats(); got.Refused.ProxyHeader != 1 {
		t.Errorf("after health checks: %+v: counted as PROXY header refusals", got)
	}
}

// TestStatsUntrustedProxy counts a connection from outside
// TrustedProxies.
func TestStatsUntrustedProxy(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		proxied(c)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closedWithin(t, c, 2*time.Second)
	want := Stats{Connections: 1, Refused: RefusedStats{UntrustedProxy: 1}}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.srv.Stats() == want }, "the refusal counted")
}
