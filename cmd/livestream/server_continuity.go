package main

import (
	"context"
	"errors"
	"time"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/registry"
)

// redisContinuity adapts the registry's stream positions to
// live.Continuity for one server.
type redisContinuity struct {
	reg    *registry.RedisStore
	server string
	// ttl is how long a stream's position outlives its last update: past
	// the reconnect window, so a publisher whose server died can come
	// back anywhere within it.
	ttl time.Duration
}

var _ live.Continuity = redisContinuity{}

// positionTTL is the stream positions' lifetime: past the longest
// reconnect window a stream may have (the server's, or a channel's own, up
// to registry.MaxReconnectWindow), so that a publisher whose server died
// continues its stream anywhere within its window. A live stream refreshes
// its position with every segment; an ended one is marked so.
func positionTTL(window time.Duration) time.Duration {
	return max(window, registry.MaxReconnectWindow) + time.Minute
}

func (c redisContinuity) Claim(ctx context.Context, pid string, since time.Time) (live.Position, bool, error) {
	old, ok, err := c.reg.ClaimPosition(ctx, pid, c.server, since, c.ttl)
	if err != nil || !ok {
		return live.Position{}, false, err
	}
	return live.Position{Next: old.Next, Discontinuities: old.Discontinuities, Ended: old.Ended}, true, nil
}

func (c redisContinuity) Advance(ctx context.Context, pid string, since time.Time, pos live.Position) error {
	err := c.reg.AdvancePosition(ctx, pid, registry.StreamPosition{
		Server: c.server, Since: since, Next: pos.Next, Discontinuities: pos.Discontinuities, Ended: pos.Ended,
	}, c.ttl)
	if errors.Is(err, registry.ErrPositionTaken) {
		return live.ErrMoved
	}
	return err
}
