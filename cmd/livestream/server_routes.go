package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/registry"
)

// redisRoutes adapts the registry's live routes to live.Routes for one
// server.
type redisRoutes struct {
	reg          *registry.RedisStore
	server, addr string
	// grace is the server's live.Config.Grace: how long it keeps an ended
	// stream's playlists, and so how long the ended route stays.
	grace time.Duration
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

// EndRoute marks pid's route ended for the server's grace period, unless
// it is a newer stream's by now.
func (r redisRoutes) EndRoute(ctx context.Context, pid string, since time.Time) error {
	_, err := r.reg.EndRoute(ctx, registry.Route{PlaybackID: pid, Server: r.server, Addr: r.addr, Since: since}, r.grace)
	return err
}

// removeEndedRoutes removes the routes of the streams streams holds, if
// they still name server: a server leaving the cluster takes its ended
// streams' playlists with it, so origins answer 404 for them at once
// rather than 503 until the routes expire.
func removeEndedRoutes(ctx context.Context, reg *registry.RedisStore, server string, streams *live.Manager, log *slog.Logger) {
	for _, s := range streams.Streams() {
		if _, err := reg.RemoveRoute(ctx, s.PlaybackID, server); err != nil {
			log.Warn("ended route not removed: it expires after the grace period", "playback_id", s.PlaybackID, "err", err)
		}
	}
}
