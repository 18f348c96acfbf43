package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ServerInfo is what a transcoding server says of itself in each
// heartbeat, for proxies to pick the least loaded.
type ServerInfo struct {
	// ID names the server in the cluster: 1 to 128 printable ASCII
	// characters, no space.
	ID string `json:"id"`
	// RTMPAddr is where proxies send publishers, "host:port".
	RTMPAddr string `json:"rtmp_addr"`
	// HTTPAddr is its internal HLS listener, "host:port".
	HTTPAddr string `json:"http_addr"`
	// Streams is how many streams it transcodes now, MaxStreams how many
	// it accepts (0: no limit).
	Streams    int `json:"streams"`
	MaxStreams int `json:"max_streams"`
	// CPU is the share of the machine's CPU in use, 0 to 1, averaged
	// over a few seconds. MaxCPU is the share at which it refuses
	// publishes (0: no limit).
	CPU    float64 `json:"cpu"`
	MaxCPU float64 `json:"max_cpu,omitempty"`
	// MaxLagSeconds is how far its slowest ladder is behind real time.
	MaxLagSeconds float64 `json:"max_lag_seconds"`
	// At is when the heartbeat was sent; Heartbeat fills a zero At.
	At time.Time `json:"at"`
}

// Load is how busy the server is, 0 (idle) to 1 (full) or more: the larger
// of its CPU share (of MaxCPU when set) and its share of MaxStreams. A
// server at 1 or more refuses publishes: proxies skip it.
func (i ServerInfo) Load() float64 {
	l := i.CPU
	if i.MaxCPU > 0 {
		l = i.CPU / i.MaxCPU
	}
	if i.MaxStreams > 0 {
		l = max(l, float64(i.Streams)/float64(i.MaxStreams))
	}
	return l
}

// maxServerIDLen bounds a server id: a host name fits.
const maxServerIDLen = 128

func checkServerID(id string) error {
	if id == "" || len(id) > maxServerIDLen || !printableASCII(id) {
		return fmt.Errorf("server id: want 1 to %d printable ASCII characters, no space", maxServerIDLen)
	}
	return nil
}

func checkHostPort(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s %q: want host:port", field, addr)
	}
	return nil
}

// Heartbeat records info for ttl: Servers lists the server until then,
// unless Heartbeat is called again. A zero At is set to now.
func (s *RedisStore) Heartbeat(ctx context.Context, info ServerInfo, ttl time.Duration) error {
	if info.At.IsZero() {
		info.At = time.Now().UTC()
	}
	err := info.check()
	if err == nil {
		err = checkTTL(ttl)
	}
	if err == nil {
		var data []byte
		data, err = json.Marshal(info)
		if err == nil {
			_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, redisServerKey(info.ID), data, ttl)
				p.SAdd(ctx, redisServers, info.ID)
				return nil
			})
		}
	}
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

func (i ServerInfo) check() error {
	if err := checkServerID(i.ID); err != nil {
		return err
	}
	if err := checkHostPort("rtmp addr", i.RTMPAddr); err != nil {
		return err
	}
	if err := checkHostPort("http addr", i.HTTPAddr); err != nil {
		return err
	}
	if i.Streams < 0 || i.MaxStreams < 0 || i.CPU < 0 || i.MaxLagSeconds < 0 {
		return errors.New("streams, max streams, cpu and lag must not be negative")
	}
	if !(i.MaxCPU >= 0 && i.MaxCPU <= 1) {
		return fmt.Errorf("max cpu %v: want 0 to 1", i.MaxCPU)
	}
	return nil
}

// RemoveServer deletes server id's heartbeat, so that proxies stop
// picking it at once (a server shutting down cleanly).
func (s *RedisStore) RemoveServer(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, redisServerKey(id))
		p.SRem(ctx, redisServers, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove server: %w", err)
	}
	return nil
}

// liveServers returns the heartbeats of the members of KEYS[1] whose key
// ARGV[1]..ID has not expired, and removes the others from the set, in one
// step so that a heartbeat arriving meanwhile is not removed.
var liveServers = redis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then table.insert(out, v) else redis.call('SREM', KEYS[1], id) end
end
return out
`)

// Servers returns the servers whose last heartbeat has not expired, least
// loaded first (ServerInfo.Load, then fewest streams, then by id).
// Heartbeats that do not decode are skipped.
func (s *RedisStore) Servers(ctx context.Context) ([]ServerInfo, error) {
	vals, err := liveServers.Run(ctx, s.rdb, []string{redisServers}, redisServerPrefix).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("list servers: %w", err)
	}
	out := make([]ServerInfo, 0, len(vals))
	for _, v := range vals {
		if info, err := parseServerInfo(v); err == nil {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b ServerInfo) int {
		return cmp.Or(cmp.Compare(a.Load(), b.Load()), cmp.Compare(a.Streams, b.Streams), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// parseServerInfo decodes and checks a heartbeat as Heartbeat stores it.
func parseServerInfo(data string) (ServerInfo, error) {
	var info ServerInfo
	if err := decodeStrict(data, &info); err != nil {
		return ServerInfo{}, fmt.Errorf("heartbeat: %w", err)
	}
	if err := info.check(); err != nil {
		return ServerInfo{}, fmt.Errorf("heartbeat: %w", err)
	}
	return info, nil
}
