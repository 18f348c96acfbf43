package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestRedisOutage: with Redis killed, calls fail at once with an error
// that unreachable recognises, never as an unknown key; once Redis is
// back on its port, the same store answers again and hears of changes
// again on its subscription.
func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	r := testenv.StartRedisProcess(t)
	url := "redis://" + r.Addr + "/0"
	s, admin := openRedisURL(t, url), openRedisURL(t, url)
	c, key, err := admin.Create(ctx, "outage")
	if err != nil {
		t.Fatal(err)
	}

	r.Kill()
	for range 3 {
		start := time.Now()
		_, err := s.Authenticate(ctx, key)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("Authenticate with Redis down took %v, want it to fail within 500ms", d)
		}
		if !unreachable(err) || errors.Is(err, ErrUnknownKey) {
			t.Errorf("Authenticate with Redis down: %v; want an unreachable error", err)
		}
	}

	r.Start()
	testenv.WaitFor(t, 5*time.Second, func() bool {
		got, err := s.Authenticate(ctx, key)
		return err == nil && got.ID == c.ID
	}, "Authenticate to answer once Redis is back")
	heard := make(chan Change, 16)
	defer s.Subscribe(func(ch Change) { heard <- ch })()
	// The subscription reconnects in the background: rotate until heard.
	testenv.WaitFor(t, 10*time.Second, func() bool {
		if _, _, err := admin.Rotate(ctx, c.ID); err != nil {
			return false
		}
		select {
		case ch := <-heard:
			return ch.ChannelID == c.ID && ch.What == KeyChanged
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, "a rotation heard on the subscription after the outage")
}
