package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRoute is returned by RedisStore.Route for a playback id that no
// server streams now: never live, ended longer ago than its server's grace
// period, or its server stopped refreshing the route.
var ErrNoRoute = errors.New("no live route")

// ErrRouteTaken is matched by the *RouteTakenError RedisStore.SetRoute
// returns when a newer stream of the channel holds the route on another
// server.
var ErrRouteTaken = errors.New("route taken by a newer stream")

// RouteTakenError refuses to set a route that another server holds for a
// newer stream of the channel: the publisher reconnected there while the
// server asking had not yet noticed it leave.
type RouteTakenError struct {
	PlaybackID string
	// Server holds the route, for a stream that started at Since.
	Server string
	Since  time.Time
}

func (e *RouteTakenError) Error() string {
	return fmt.Sprintf("route of %s is held by server %q for a newer stream (since %s)",
		e.PlaybackID, e.Server, e.Since.Format(time.RFC3339Nano))
}

// Unwrap makes errors.Is(err, ErrRouteTaken) true.
func (e *RouteTakenError) Unwrap() error { return ErrRouteTaken }

// Route says which server of a cluster holds a live stream, for origins to
// fetch its HLS from.
type Route struct {
	PlaybackID string `json:"playback_id"`
	// Server is the id of the server (ServerInfo.ID).
	Server string `json:"server"`
	// Addr is the server's internal HLS listener, "host:port".
	Addr string `json:"addr"`
	// Since is when the stream started on that server.
	Since time.Time `json:"since"`
	// Ended says the stream has ended (EndRoute): its server still serves
	// its ended playlists, with EXT-X-ENDLIST, until the route expires.
	// An ended route never keeps a new stream of the channel from taking
	// the route.
	Ended bool `json:"ended,omitempty"`
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return fmt.Errorf("ttl %v: want at least 1ms", ttl)
	}
	return nil
}

func (r Route) check() error {
	if !validPlaybackID(r.PlaybackID) {
		return fmt.Errorf("playback id: want %d of [a-z0-9]", playbackIDLen)
	}
	if err := checkServerID(r.Server); err != nil {
		return err
	}
	return checkHostPort("addr", r.Addr)
}

// SetRoute routes r.PlaybackID to r.Server for ttl, unless the route
// names another server with a later Since (a newer stream of the channel:
// the publisher reconnected there) and has not ended: then it returns a
// *RouteTakenError, which matches ErrRouteTaken, and changes nothing. The
// check and the write are one step in Redis, so a stale server cannot take
// a route back between them. The route expires unless SetRoute is called
// again before: a server sets it once the first segment of the ladder
// exists, and refreshes it with its heartbeat. A zero Since is set to now;
// a route of the same server, with an equal or older Since, or ended, is
// replaced. r.Ended is ignored: SetRoute sets a live route.
func (s *RedisStore) SetRoute(ctx context.Context, r Route, ttl time.Duration) error {
	if r.Since.IsZero() {
		r.Since = time.Now()
	}
	// claimRoute compares Sinces as text: both in UTC, to the nanosecond.
	r.Since = r.Since.UTC()
	r.Ended = false
	err := r.check()
	if err == nil {
		err = checkTTL(ttl)
	}
	var holder []string
	if err == nil {
		var data []byte
		data, err = json.Marshal(r)
		if err == nil {
			holder, err = claimRoute.Run(ctx, s.rdb, []string{redisRouteKey(r.PlaybackID)},
				data, ttl.Milliseconds(), r.Server, sinceDigits(r.Since)).StringSlice()
		}
	}
	if err != nil {
		return fmt.Errorf("set route: %w", err)
	}
	if len(holder) == 2 {
		taken := &RouteTakenError{PlaybackID: r.PlaybackID, Server: holder[0]}
		taken.Since, _ = time.Parse(time.RFC3339Nano, holder[1])
		return taken
	}
	return nil
}

// sinceDigits writes t in UTC as the 23 digits claimRoute compares: fixed
// width, so that text order is time order (RFC 3339 as JSON writes it
// drops trailing zeros of the fraction, and "05Z" sorts after "05.1Z").
func sinceDigits(t time.Time) string {
	return strings.Replace(t.UTC().Format("20060102150405.000000000"), ".", "", 1)
}

// claimRoute sets KEYS[1] to route ARGV[1] for ARGV[2] ms, unless the
// route there names another server than ARGV[3] with a Since later than
// ARGV[4] (sinceDigits) and has not ended; then it returns that server and
// its Since as stored, else an empty array. A route it cannot decode, or
// whose Since is not SetRoute's (UTC, at most nanoseconds), is replaced:
// no origin can use it.
var claimRoute = redis.NewScript(storedSince + `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' and type(r.server) == 'string' and r.server ~= ARGV[3] and r.ended ~= true then
    local since = stored_since(r)
    if since and since > ARGV[4] then return {r.server, r.since} end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {}
`)

// storedSince defines, for the scripts, stored_since(r): the Since of the
// decoded route r as sinceDigits writes it, or nil when r has none that
// SetRoute could have stored. Sinces are compared as strings of digits
// only, which every collation (Lua compares with strcoll) orders as
// numbers.
const storedSince = `
local function stored_since(r)
  if type(r.since) ~= 'string' then return nil end
  local sec, frac = string.match(r.since, '^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$')
  if sec and #frac <= 9 and (frac == '' or string.sub(r.since, 20, 20) == '.') then
    return (string.gsub(sec, '%D', '')) .. frac .. string.rep('0', 9 - #frac)
  end
  return nil
end
`

// Route returns the route of playback id pid: a live stream's, or an
// ended one's (Route.Ended) while its server keeps its playlists; or
// ErrNoRoute.
func (s *RedisStore) Route(ctx context.Context, pid string) (Route, error) {
	if !validPlaybackID(pid) {
		return Route{}, ErrNoRoute
	}
	data, err := s.rdb.Get(ctx, redisRouteKey(pid)).Result()
	if errors.Is(err, redis.Nil) {
		return Route{}, ErrNoRoute
	} else if err != nil {
		return Route{}, fmt.Errorf("read route of %s: %w", pid, err)
	}
	r, err := parseRoute(data)
	if err == nil && r.PlaybackID != pid {
		err = errors.New("holds the route of another playback id")
	}
	if err != nil {
		return Route{}, fmt.Errorf("redis key %s: %w", redisRouteKey(pid), err)
	}
	return r, nil
}

// parseRoute decodes and checks a route as SetRoute stores it.
func parseRoute(data string) (Route, error) {
	var r Route
	if err := decodeStrict(data, &r); err != nil {
		return Route{}, fmt.Errorf("route: %w", err)
	}
	if err := r.check(); err != nil {
		return Route{}, fmt.Errorf("route: %w", err)
	}
	return r, nil
}

// removeRoute deletes KEYS[1] if it is a route to server ARGV[1]; it
// returns 1 if it did. A route it cannot decode is left alone.
var removeRoute = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if ok and type(r) == 'table' and r.server == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// RemoveRoute deletes the route of playback id pid if it still points at
// server, in one step, and reports whether it did: when a publisher
// reconnected to another server, the route that server set stays.
func (s *RedisStore) RemoveRoute(ctx context.Context, pid, server string) (bool, error) {
	if !validPlaybackID(pid) {
		return false, nil
	}
	n, err := removeRoute.Run(ctx, s.rdb, []string{redisRouteKey(pid)}, server).Int()
	if err != nil {
		return false, fmt.Errorf("remove route of %s: %w", pid, err)
	}
	return n == 1, nil
}

// endRoute sets KEYS[1] to the ended route ARGV[1] for ARGV[2] ms, unless
// the route there is of a newer stream: a Since later than ARGV[4]
// (sinceDigits), or an equal one on another server than ARGV[3]. It
// returns 1 if it set it. A missing route is set: the stream's last
// viewers still find its end. A route it cannot decode is replaced.
var endRoute = redis.NewScript(storedSince + `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' then
    local since = stored_since(r)
    if since and (since > ARGV[4] or (since == ARGV[4] and r.server ~= ARGV[3])) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// EndRoute marks the route of r's stream ended for ttl, and reports
// whether it did: origins keep fetching the stream's ended playlists
// (EXT-X-ENDLIST) from r.Server, as long as it keeps them (ttl, its grace
// period), and then find no route. A route of a newer stream of the
// channel (a later Since, on any server) is left as it is. r.Since must be
// the Since the stream's SetRoute calls gave. The check and the write are
// one step in Redis.
func (s *RedisStore) EndRoute(ctx context.Context, r Route, ttl time.Duration) (bool, error) {
	r.Since = r.Since.UTC()
	r.Ended = true
	err := r.check()
	if err == nil {
		err = checkTTL(ttl)
	}
	if err == nil && r.Since.IsZero() {
		err = errors.New("since: required")
	}
	n := 0
	if err == nil {
		var data []byte
		data, err = json.Marshal(r)
		if err == nil {
			n, err = endRoute.Run(ctx, s.rdb, []string{redisRouteKey(r.PlaybackID)},
				data, ttl.Milliseconds(), r.Server, sinceDigits(r.Since)).Int()
		}
	}
	if err != nil {
		return false, fmt.Errorf("end route: %w", err)
	}
	return n == 1, nil
}
