package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Destinations returns channel channelID's destinations in full, in the
// order added; an error wrapping ErrNotFound for an unknown channel.
func (s *RedisStore) Destinations(ctx context.Context, channelID string) ([]Destination, error) {
	fc, err := s.load(ctx, s.rdb, channelID)
	if err != nil {
		return nil, fmt.Errorf("destinations of %s: %w", idForError(channelID), err)
	}
	return slices.Clone(fc.Destinations), nil
}

// AddDestination validates d and adds it, with a new ID and CreatedAt, to
// channel channelID. Subscribers hear DestinationsChanged as for Rotate.
func (s *RedisStore) AddDestination(ctx context.Context, channelID string, d Destination) (Destination, error) {
	d.ID, d.CreatedAt = "", time.Time{}
	err := d.Validate()
	if err == nil {
		err = s.mutate(ctx, channelID, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
			if n := len(fc.Destinations); n >= MaxDestinations {
				return nil, fmt.Errorf("%w: the channel has %d destinations, the most it may have", ErrInvalidDestination, n)
			}
			d.ID = newDestinationID()
			d.CreatedAt = time.Now().UTC()
			index := redisDestKey(d.ID)
			if err := tx.Watch(ctx, index).Err(); err != nil {
				return nil, err
			}
			if n, err := tx.Exists(ctx, index).Result(); err != nil {
				return nil, err
			} else if n > 0 {
				return nil, errTaken
			}
			fc.Destinations = append(fc.Destinations, d)
			return s.writeDestinations(ctx, tx, fc, func(p redis.Pipeliner) { p.Set(ctx, index, channelID, 0) })
		})
	}
	if err != nil {
		return Destination{}, fmt.Errorf("add destination to %s: %w", idForError(channelID), err)
	}
	return d, nil
}

// UpdateDestination applies u to destination destID of channel channelID
// and returns the result in full. Subscribers hear DestinationsChanged as
// for Rotate, unless the destination stayed as it was.
func (s *RedisStore) UpdateDestination(ctx context.Context, channelID, destID string, u DestinationUpdate) (Destination, error) {
	var d Destination
	err := s.mutate(ctx, channelID, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
		j := slices.IndexFunc(fc.Destinations, func(d Destination) bool { return d.ID == destID })
		if j < 0 {
			return nil, ErrNoDestination
		}
		d = fc.Destinations[j]
		u.apply(&d)
		if err := d.Validate(); err != nil {
			return nil, err
		}
		if sameDestination(d, fc.Destinations[j]) {
			return nil, nil
		}
		fc.Destinations[j] = d
		return s.writeDestinations(ctx, tx, fc, nil)
	})
	if err != nil {
		return Destination{}, fmt.Errorf("update destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return d, nil
}

// DeleteDestination deletes destination destID of channel channelID.
// Subscribers hear DestinationsChanged as for Rotate.
func (s *RedisStore) DeleteDestination(ctx context.Context, channelID, destID string) error {
	err := s.mutate(ctx, channelID, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
		j := slices.IndexFunc(fc.Destinations, func(d Destination) bool { return d.ID == destID })
		if j < 0 {
			return nil, ErrNoDestination
		}
		fc.Destinations = slices.Delete(fc.Destinations, j, j+1)
		return s.writeDestinations(ctx, tx, fc, func(p redis.Pipeliner) { p.Del(ctx, redisDestKey(destID)) })
	})
	if err != nil {
		return fmt.Errorf("delete destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return nil
}

// writeDestinations stores fc, whose destinations changed, with what more
// writes, and publishes DestinationsChanged, in one EXEC.
func (s *RedisStore) writeDestinations(ctx context.Context, tx *redis.Tx, fc *fileChannel, more func(redis.Pipeliner)) ([]Change, error) {
	data, err := json.Marshal(fc)
	if err != nil {
		return nil, err
	}
	change := Change{fc.ID, DestinationsChanged}
	_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, redisChannelKey(fc.ID), data, 0)
		if more != nil {
			more(p)
		}
		p.Publish(ctx, s.changes, formatChange(s.instance, change))
		return nil
	})
	return []Change{change}, err
}
