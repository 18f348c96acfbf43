package registry

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// UpdateSettings applies u to channel id's settings and returns the
// channel. Subscribers hear SettingsChanged as for Rotate, unless the
// settings stayed as they were.
//
// The settings are stored in the channel's JSON (ls:ch:ID), which a
// livestream from before them decodes strictly: such a server, proxy or
// origin refuses a channel that has settings (its publishes, and its
// List as a whole, fail with "unknown field \"settings\"") rather than
// rewrite the channel without them. Channels without settings are stored
// as before. Upgrade the whole cluster before giving a channel settings.
// Its change messages (SettingsChanged, a kind it does not know) are
// dropped.
func (s *RedisStore) UpdateSettings(ctx context.Context, id string, u SettingsUpdate) (Channel, error) {
	var c Channel
	err := s.mutate(ctx, id, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
		settings, err := u.apply(fc.Settings)
		if err != nil {
			return nil, err
		}
		unchanged := settings.equal(fc.Settings)
		fc.Settings = settings
		c = fc.Channel
		if unchanged {
			return nil, nil
		}
		data, err := json.Marshal(fc)
		if err != nil {
			return nil, err
		}
		change := Change{id, SettingsChanged}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, redisChannelKey(id), data, 0)
			p.Publish(ctx, s.changes, formatChange(s.instance, change))
			return nil
		})
		return []Change{change}, err
	})
	if err != nil {
		return Channel{}, fmt.Errorf("update settings of %s: %w", idForError(id), err)
	}
	return c, nil
}
