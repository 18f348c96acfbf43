package registry

import (
	"context"
	"fmt"
	"slices"
)

// UpdateSettings applies u to channel id's settings and returns the
// channel. Subscribers hear SettingsChanged before it returns, unless the
// settings stayed as they were.
func (s *FileStore) UpdateSettings(ctx context.Context, id string, u SettingsUpdate) (Channel, error) {
	var c Channel
	err := s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
		i, ok := cur.byID[id]
		if !ok {
			return nil, ErrNotFound
		}
		settings, err := u.apply(cur.channels[i].Settings)
		if err != nil {
			return nil, err
		}
		channels := slices.Clone(cur.channels)
		channels[i].Settings = settings
		c = channels[i].Channel
		return channels, nil
	})
	if err != nil {
		return Channel{}, fmt.Errorf("update settings of %s: %w", idForError(id), err)
	}
	return c, nil
}
