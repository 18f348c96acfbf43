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
// else DATA_DIR/channels.json.
func openRegistry(ctx context.Context, sc ServeConfig) (registry.Store, func(), error) {
	if sc.RedisURL != "" {
		ctx, cancel := context.WithTimeout(ctx, redisOpenTimeout)
		defer cancel()
		s, err := registry.OpenRedis(ctx, sc.RedisURL)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	s, err := registry.OpenFile(filepath.Join(sc.DataDir, "channels.json"))
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
