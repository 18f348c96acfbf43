package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrPositionTaken is returned by AdvancePosition when another stream (on
// another server, or a newer one here) has claimed the playback id.
var ErrPositionTaken = errors.New("stream position claimed by another stream")

// StreamPosition is where a live stream's playlists are, for the server a
// reconnecting publisher lands on to continue them.
type StreamPosition struct {
	// Server and Since name the stream that holds the playback id: the
	// server it runs on and when it started there.
	Server string    `json:"server"`
	Since  time.Time `json:"since"`
	// Next is the number of its next segment, Discontinuities how many
	// EXT-X-DISCONTINUITY came before it.
	Next            int64 `json:"next"`
	Discontinuities int   `json:"discontinuities"`
	// Ended: the stream ended where it was (a clean unpublish, or its
	// reconnect window closed).
	Ended bool `json:"ended,omitempty"`
}

func redisPositionKey(pid string) string { return redisPrefix + "position:" + pid }

// claimPosition makes the stream ARGV[1] (server) started at ARGV[2]
// (sinceDigits) the holder of KEYS[1], keeping the position stored there,
// for ARGV[3] ms, and returns what was stored before (false when nothing).
var claimPosition = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
local p = {next = 0, discontinuities = 0}
if old then
  local ok, r = pcall(cjson.decode, old)
  if ok and type(r) == 'table' and type(r.next) == 'number' and type(r.discontinuities) == 'number' then
    p.next, p.discontinuities = r.next, r.discontinuities
  end
end
p.server, p.since, p.since_digits, p.ended = ARGV[1], ARGV[4], ARGV[2], false
redis.call('SET', KEYS[1], cjson.encode(p), 'PX', ARGV[3])
return old
`)

// ClaimPosition makes the stream of playback id pid that started at since
// on server the one that holds it, for ttl, and returns the position of
// the stream that held it before; ok is false when none did (or its record
// expired). The position is kept until the new holder's first
// AdvancePosition; the old holder's next AdvancePosition fails with
// ErrPositionTaken.
func (s *RedisStore) ClaimPosition(ctx context.Context, pid, server string, since time.Time, ttl time.Duration) (old StreamPosition, ok bool, err error) {
	if !validPlaybackID(pid) {
		return StreamPosition{}, false, fmt.Errorf("claim stream position: invalid playback id")
	}
	if err := checkServerID(server); err != nil {
		return StreamPosition{}, false, fmt.Errorf("claim stream position: %w", err)
	}
	if err := checkTTL(ttl); err != nil {
		return StreamPosition{}, false, fmt.Errorf("claim stream position: %w", err)
	}
	since = since.UTC()
	v, err := claimPosition.Run(ctx, s.rdb, []string{redisPositionKey(pid)},
		server, sinceDigits(since), ttl.Milliseconds(), since.Format(time.RFC3339Nano)).Result()
	if errors.Is(err, redis.Nil) {
		return StreamPosition{}, false, nil
	}
	if err != nil {
		return StreamPosition{}, false, fmt.Errorf("claim stream position of %s: %w", pid, err)
	}
	data, _ := v.(string)
	if err := json.Unmarshal([]byte(data), &old); err != nil || old.Next <= 0 || old.Discontinuities < 0 {
		return StreamPosition{}, false, nil // unreadable: start anew
	}
	return old, true, nil
}

// advancePosition stores ARGV[3] (a position) at KEYS[1] for ARGV[4] ms if
// the stream there is ARGV[1] (server) since ARGV[2] (sinceDigits);
// returns 1 if it did, 0 if another stream holds it.
var advancePosition = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old then
  local ok, r = pcall(cjson.decode, old)
  if ok and type(r) == 'table' and (r.server ~= ARGV[1] or r.since_digits ~= ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
return 1
`)

// AdvancePosition records pos, the position of the stream of pid that
// started at pos.Since on pos.Server, for ttl, unless another stream has
// claimed pid since: then ErrPositionTaken.
func (s *RedisStore) AdvancePosition(ctx context.Context, pid string, pos StreamPosition, ttl time.Duration) error {
	if !validPlaybackID(pid) {
		return fmt.Errorf("advance stream position: invalid playback id")
	}
	if err := checkServerID(pos.Server); err != nil {
		return fmt.Errorf("advance stream position: %w", err)
	}
	if err := checkTTL(ttl); err != nil {
		return fmt.Errorf("advance stream position: %w", err)
	}
	pos.Since = pos.Since.UTC()
	stored := struct {
		StreamPosition
		SinceDigits string `json:"since_digits"`
	}{pos, sinceDigits(pos.Since)}
	data, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("advance stream position: %w", err)
	}
	n, err := advancePosition.Run(ctx, s.rdb, []string{redisPositionKey(pid)},
		pos.Server, stored.SinceDigits, data, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("advance stream position of %s: %w", pid, err)
	}
	if n == 0 {
		return ErrPositionTaken
	}
	return nil
}
