package registry

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Destinations returns channel channelID's destinations in full, in the
// order added; an error wrapping ErrNotFound for an unknown channel.
func (s *FileStore) Destinations(ctx context.Context, channelID string) ([]Destination, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := snap.lookup(snap.byID, channelID)
	if !ok {
		return nil, fmt.Errorf("destinations of %s: %w", idForError(channelID), ErrNotFound)
	}
	return slices.Clone(c.Destinations), nil
}

// AddDestination validates d and adds it, with a new ID and CreatedAt, to
// channel channelID. Subscribers hear DestinationsChanged before it
// returns.
func (s *FileStore) AddDestination(ctx context.Context, channelID string, d Destination) (Destination, error) {
	d.ID, d.CreatedAt = "", time.Time{}
	err := d.Validate()
	if err == nil {
		err = s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
			i, ok := cur.byID[channelID]
			if !ok {
				return nil, ErrNotFound
			}
			if n := len(cur.channels[i].Destinations); n >= MaxDestinations {
				return nil, fmt.Errorf("%w: the channel has %d destinations, the most it may have", ErrInvalidDestination, n)
			}
			d.ID = unused(cur.byDest, newDestinationID)
			d.CreatedAt = time.Now().UTC()
			channels := slices.Clone(cur.channels)
			channels[i].Destinations = append(slices.Clone(channels[i].Destinations), d)
			return channels, nil
		})
	}
	if err != nil {
		return Destination{}, fmt.Errorf("add destination to %s: %w", idForError(channelID), err)
	}
	return d, nil
}

// UpdateDestination applies u to destination destID of channel channelID
// and returns the result in full. Subscribers hear DestinationsChanged
// before it returns, unless the destination stayed as it was.
func (s *FileStore) UpdateDestination(ctx context.Context, channelID, destID string, u DestinationUpdate) (Destination, error) {
	var d Destination
	err := s.changeDestination(ctx, channelID, destID, func(ds []Destination, j int) ([]Destination, error) {
		d = ds[j]
		u.apply(&d)
		if err := d.Validate(); err != nil {
			return nil, err
		}
		ds[j] = d
		return ds, nil
	})
	if err != nil {
		return Destination{}, fmt.Errorf("update destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return d, nil
}

// DeleteDestination deletes destination destID of channel channelID.
// Subscribers hear DestinationsChanged before it returns.
func (s *FileStore) DeleteDestination(ctx context.Context, channelID, destID string) error {
	err := s.changeDestination(ctx, channelID, destID, func(ds []Destination, j int) ([]Destination, error) {
		return slices.Delete(ds, j, j+1), nil
	})
	if err != nil {
		return fmt.Errorf("delete destination %s of %s: %w", destIDForError(destID), idForError(channelID), err)
	}
	return nil
}

// changeDestination finds destination destID of channel channelID and
// stores the destinations change returns; change gets a copy it may
// modify, and the destination's index in it.
func (s *FileStore) changeDestination(ctx context.Context, channelID, destID string, change func(ds []Destination, j int) ([]Destination, error)) error {
	return s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
		i, ok := cur.byID[channelID]
		if !ok {
			return nil, ErrNotFound
		}
		j := cur.destination(i, destID)
		if j < 0 {
			return nil, ErrNoDestination
		}
		ds, err := change(slices.Clone(cur.channels[i].Destinations), j)
		if err != nil {
			return nil, err
		}
		channels := slices.Clone(cur.channels)
		channels[i].Destinations = ds
		return channels, nil
	})
}
