package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/livestream/livestream/registry"
)

// redisOpenTimeout bounds connecting to a cluster's Redis.
const redisOpenTimeout = 10 * time.Second

// openRegistry opens the channels: the cluster's Redis when sc names one,
// else DATA_DIR/channels.json. In front of Redis, an AuthCache lets the
// channels that published here publish again while Redis is away.
func openRegistry(ctx context.Context, sc ServeConfig) (registry.Store, func(), error) {
	if sc.RedisURL != "" {
		ctx, cancel := context.WithTimeout(ctx, redisOpenTimeout)
		defer cancel()
		s, err := registry.OpenRedis(ctx, sc.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		auth := registry.NewAuthCache(s, registry.AuthCacheConfig{})
		return auth, func() { auth.Close(); s.Close() }, nil
	}
	s, err := registry.OpenFile(filepath.Join(sc.DataDir, "channels.json"))
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
