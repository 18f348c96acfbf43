package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/registry"
)

// redisRoutes adapts the registry's live routes to live.Routes for one
// server.
type redisRoutes struct {
	reg          *registry.RedisStore
	server, addr string
}

var _ live.Routes = redisRoutes{}

// errStreamMoved refuses to refresh a route that another server has
// since taken: the publisher reconnected there while this server had not
// yet noticed it leave.
var errStreamMoved = errors.New("the stream has moved to another server")

// SetRoute sets or refreshes pid's route, unless another server holds it
// for a newer stream of the channel (errStreamMoved). The check and the
// write are one round trip to Redis (registry.RedisStore.SetRoute), so a
// route taken meanwhile is never taken back.
func (r redisRoutes) SetRoute(ctx context.Context, pid string, since time.Time, ttl time.Duration) error {
	err := r.reg.SetRoute(ctx, registry.Route{PlaybackID: pid, Server: r.server, Addr: r.addr, Since: since}, ttl)
	if taken, ok := errors.AsType[*registry.RouteTakenError](err); ok {
		return fmt.Errorf("%w (%s)", errStreamMoved, taken.Server)
	}
	return err
}

func (r redisRoutes) RemoveRoute(ctx context.Context, pid string) error {
	_, err := r.reg.RemoveRoute(ctx, pid, r.server)
	return err
}
