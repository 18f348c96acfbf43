package registry

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Store = (*RedisStore)(nil)

// RedisStore is the Store of a cluster: channels, live routes and server
// heartbeats kept in one Redis (a standalone server or a replicated
// primary; not Redis Cluster, since one transaction spans keys of several
// slots), shared by every server, proxy, origin and `livestream keys` of
// the cluster.
//
// Key schema, every key under "ls:":
//
//	ls:ch:CHANNEL_ID       string: JSON of the channel, its key's SHA-256 and its destinations
//	ls:channels            sorted set: channel ids scored by ls:seq at creation (List's order)
//	ls:seq                 counter: creation order
//	ls:pid:PLAYBACK_ID     string: channel id
//	ls:key:KEY_SHA256      string: channel id (the key itself is never stored)
//	ls:dest:DEST_ID        string: channel id (keeps destination ids unique)
//	ls:route:PLAYBACK_ID   string: JSON of the Route of a live stream, with a TTL; or of an
//	                       ended one ("ended":true) for its server's grace period
//	ls:server:SERVER_ID    string: JSON of the ServerInfo of the last heartbeat, with a TTL
//	ls:servers             set: server ids that sent a heartbeat (expired ones are pruned by Servers)
//	ls:changes:DB          pub/sub channel: Change messages (see formatChange); Redis pub/sub
//	                       ignores database numbers, so the name holds one
//
// Every mutation of a channel is one optimistic transaction (WATCH of the
// keys it reads, MULTI/EXEC of what it writes, retried when another client
// wrote a watched key meanwhile): two creates never share an id, playback id
// or key hash, a rotation drops the old key's index in the same EXEC that
// adds the new one, and a revocation deletes the channel with every index,
// destination id and route of it. The same EXEC publishes the Change, so
// every RedisStore of the cluster hears of it.
//
// A RedisStore is safe for concurrent use. Close it when done.
type RedisStore struct {
	rdb      *redis.Client
	changes  string // the pub/sub channel name
	instance string // tells this store's own messages apart

	// newPlaybackID draws playback ids; tests narrow it to force
	// collisions.
	newPlaybackID func() string

	pubsub *redis.PubSub
	wg     sync.WaitGroup

	subMu   sync.Mutex
	subs    map[int]func(Change)
	nextSub int

	closeOnce sync.Once
	closeErr  error
}

// Key prefixes of the schema in RedisStore's doc.
const (
	redisPrefix   = "ls:"
	redisChannels = redisPrefix + "channels"
	redisSeq      = redisPrefix + "seq"
	redisServers  = redisPrefix + "servers"
	// redisServerPrefix starts the key of each server's heartbeat.
	redisServerPrefix = redisPrefix + "server:"
)

func redisChannelKey(id string) string   { return redisPrefix + "ch:" + id }
func redisPlaybackKey(pid string) string { return redisPrefix + "pid:" + pid }
func redisKeyHashKey(hash string) string { return redisPrefix + "key:" + hash }
func redisDestKey(id string) string      { return redisPrefix + "dest:" + id }
func redisRouteKey(pid string) string    { return redisPrefix + "route:" + pid }
func redisServerKey(id string) string    { return redisPrefix + "server:" + id }
func redisChangesChannel(db int) string  { return redisPrefix + "changes:" + strconv.Itoa(db) }
func redisServerKeyPrefix() string       { return redisPrefix + "server:" }
func redisChannelKeys(ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redisChannelKey(id)
	}
	return keys
}

// OpenRedis connects to the Redis at rawURL, redis://[[USER]:PASSWORD@]HOST:PORT[/DB]
// or rediss:// for TLS (verified against the system's roots), with
// go-redis's query options (dial_timeout=3s, …). It checks that Redis
// answers and subscribes to the cluster's changes, on a connection kept
// until Close. Errors never quote the URL, which may hold a password.
func OpenRedis(ctx context.Context, rawURL string) (*RedisStore, error) {
	return openRedis(ctx, rawURL, nil)
}

// openRedis is OpenRedis, trusting roots for rediss:// instead of the
// system's when roots is not nil (tests).
func openRedis(ctx context.Context, rawURL string, tlsConfig *tls.Config) (*RedisStore, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // url.Error quotes the URL, password and all
		}
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if opt.TLSConfig != nil && tlsConfig != nil {
		c := tlsConfig.Clone()
		c.ServerName = opt.TLSConfig.ServerName
		opt.TLSConfig = c
	}
	// One dial per attempt: go-redis's own default (5 dials 100 ms apart,
	// for each of a command's 4 attempts) makes every call to a Redis
	// that is down take 1.7 s, which an origin's route lookup and a
	// publish waiting for its key cannot afford; a command's attempts
	// still ride out a blip.
	opt.DialerRetries = 1
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opt.Addr, err)
	}
	s := &RedisStore{
		rdb:           rdb,
		changes:       redisChangesChannel(opt.DB),
		instance:      randomID(instanceIDLen),
		newPlaybackID: newPlaybackID,
		subs:          map[int]func(Change){},
	}
	// Subscribe now, and wait for Redis to confirm, so that a change made
	// anywhere once OpenRedis returns is heard.
	s.pubsub = rdb.Subscribe(ctx, s.changes)
	if _, err := s.pubsub.Receive(ctx); err != nil {
		s.pubsub.Close()
		rdb.Close()
		return nil, fmt.Errorf("subscribe to redis channel %s: %w", s.changes, err)
	}
	msgs := s.pubsub.Channel()
	s.wg.Go(func() { s.listen(msgs) })
	return s, nil
}

// Close ends the subscription and closes the connections. Calls after
// Close return an error. Close is idempotent.
func (s *RedisStore) Close() error {
	s.closeOnce.Do(func() {
		perr := s.pubsub.Close()
		s.wg.Wait()
		s.closeErr = errors.Join(perr, s.rdb.Close())
	})
	return s.closeErr
}

// Create makes a channel named name, which must pass the checks of
// ErrInvalidName, and returns it with its stream key.
func (s *RedisStore) Create(ctx context.Context, name string) (Channel, string, error) {
	if err := checkName(name); err != nil {
		return Channel{}, "", err
	}
	c, key, err := s.create(ctx, name)
	if err != nil {
		return Channel{}, "", fmt.Errorf("create channel: %w", err)
	}
	return c, key, nil
}

func (s *RedisStore) create(ctx context.Context, name string) (Channel, string, error) {
	if err := ctx.Err(); err != nil {
		return Channel{}, "", err
	}
	seq, err := s.rdb.Incr(ctx, redisSeq).Result()
	if err != nil {
		return Channel{}, "", err
	}
	for range maxTxAttempts {
		now := time.Now().UTC()
		key := newStreamKey()
		fc := fileChannel{
			Channel: Channel{ID: newChannelID(), Name: name, PlaybackID: s.newPlaybackID(), CreatedAt: now, KeyRotatedAt: now},
			KeyHash: hashKey(key),
		}
		data, err := json.Marshal(fc)
		if err != nil {
			return Channel{}, "", err
		}
		keys := []string{redisChannelKey(fc.ID), redisPlaybackKey(fc.PlaybackID), redisKeyHashKey(fc.KeyHash)}
		err = s.transact(ctx, func(tx *redis.Tx) error {
			if n, err := tx.Exists(ctx, keys...).Result(); err != nil {
				return err
			} else if n > 0 {
				return errTaken
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, keys[0], data, 0)
				p.Set(ctx, keys[1], fc.ID, 0)
				p.Set(ctx, keys[2], fc.ID, 0)
				p.ZAdd(ctx, redisChannels, redis.Z{Score: float64(seq), Member: fc.ID})
				return nil
			})
			return err
		}, keys...)
		if errors.Is(err, errTaken) {
			continue
		}
		if err != nil {
			return Channel{}, "", err
		}
		return fc.Channel, key, nil
	}
	return Channel{}, "", errors.New("no unused channel id, playback id and key found")
}

// Rotate issues a new stream key for channel id; the old one stops working
// as soon as Rotate returns, on every RedisStore of the cluster. This
// store's subscribers are called before it returns, other stores' when the
// published change reaches them.
func (s *RedisStore) Rotate(ctx context.Context, id string) (Channel, string, error) {
	var c Channel
	var key string
	err := s.mutate(ctx, id, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
		key = newStreamKey()
		hash := hashKey(key)
		newIndex := redisKeyHashKey(hash)
		if err := tx.Watch(ctx, newIndex).Err(); err != nil {
			return nil, err
		}
		if n, err := tx.Exists(ctx, newIndex).Result(); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, errTaken
		}
		old := fc.KeyHash
		fc.KeyHash = hash
		fc.KeyRotatedAt = time.Now().UTC()
		c = fc.Channel
		data, err := json.Marshal(fc)
		if err != nil {
			return nil, err
		}
		change := Change{id, KeyChanged}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, redisChannelKey(id), data, 0)
			p.Del(ctx, redisKeyHashKey(old))
			p.Set(ctx, newIndex, id, 0)
			p.Publish(ctx, s.changes, formatChange(s.instance, change))
			return nil
		})
		return []Change{change}, err
	})
	if err != nil {
		return Channel{}, "", fmt.Errorf("rotate key of %s: %w", idForError(id), err)
	}
	return c, key, nil
}

// Revoke deletes channel id, its key, its destinations and its live route.
// Subscribers are called as for Rotate.
func (s *RedisStore) Revoke(ctx context.Context, id string) error {
	err := s.mutate(ctx, id, func(tx *redis.Tx, fc *fileChannel) ([]Change, error) {
		del := []string{redisChannelKey(id), redisPlaybackKey(fc.PlaybackID), redisKeyHashKey(fc.KeyHash), redisRouteKey(fc.PlaybackID)}
		for _, d := range fc.Destinations {
			del = append(del, redisDestKey(d.ID))
		}
		change := Change{id, ChannelRevoked}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, del...)
			p.ZRem(ctx, redisChannels, id)
			p.Publish(ctx, s.changes, formatChange(s.instance, change))
			return nil
		})
		return []Change{change}, err
	})
	if err != nil {
		return fmt.Errorf("revoke %s: %w", idForError(id), err)
	}
	return nil
}

// List returns every channel, oldest first.
func (s *RedisStore) List(ctx context.Context) ([]Channel, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, err := s.rdb.ZRange(ctx, redisChannels, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	// MGET in batches, so that one answer stays a few MB at most.
	const batch = 1000
	out := make([]Channel, 0, len(ids))
	for len(ids) > 0 {
		n := min(batch, len(ids))
		vals, err := s.rdb.MGet(ctx, redisChannelKeys(ids[:n])...).Result()
		if err != nil {
			return nil, fmt.Errorf("list channels: %w", err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // revoked since ZRANGE
			}
			fc, err := decodeRedisChannel(ids[i], str)
			if err != nil {
				return nil, err
			}
			out = append(out, fc.Channel)
		}
		ids = ids[n:]
	}
	return out, nil
}

// Get returns channel id, or ErrNotFound.
func (s *RedisStore) Get(ctx context.Context, id string) (Channel, error) {
	fc, err := s.load(ctx, s.rdb, id)
	if err != nil {
		return Channel{}, err
	}
	return fc.Channel, nil
}

// ByPlaybackID returns the channel with playback id pid, or ErrNotFound.
func (s *RedisStore) ByPlaybackID(ctx context.Context, pid string) (Channel, error) {
	if err := ctx.Err(); err != nil {
		return Channel{}, err
	}
	if !validPlaybackID(pid) {
		return Channel{}, ErrNotFound
	}
	id, err := s.rdb.Get(ctx, redisPlaybackKey(pid)).Result()
	if errors.Is(err, redis.Nil) {
		return Channel{}, ErrNotFound
	} else if err != nil {
		return Channel{}, fmt.Errorf("look up playback id: %w", err)
	}
	return s.Get(ctx, id)
}

// Authenticate returns the channel whose stream key is key. A malformed key
// is refused before any lookup; a well-formed one is hashed and the hash
// looked up, so Redis never sees the key.
func (s *RedisStore) Authenticate(ctx context.Context, key string) (Channel, error) {
	if err := checkKey(key); err != nil {
		return Channel{}, err
	}
	if err := ctx.Err(); err != nil {
		return Channel{}, err
	}
	hash := hashKey(key)
	id, err := s.rdb.Get(ctx, redisKeyHashKey(hash)).Result()
	if errors.Is(err, redis.Nil) {
		return Channel{}, ErrUnknownKey
	} else if err != nil {
		return Channel{}, fmt.Errorf("authenticate: %w", err)
	}
	fc, err := s.load(ctx, s.rdb, id)
	// Rotated or revoked between the two reads: the key is no longer
	// the channel's.
	if errors.Is(err, ErrNotFound) || err == nil && fc.KeyHash != hash {
		return Channel{}, ErrUnknownKey
	} else if err != nil {
		return Channel{}, fmt.Errorf("authenticate: %w", err)
	}
	return fc.Channel, nil
}

// load reads channel id through c (the client, or a transaction that
// watches its key): ErrNotFound if there is none.
func (s *RedisStore) load(ctx context.Context, c redis.Cmdable, id string) (*fileChannel, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validChannelID(id) {
		return nil, ErrNotFound
	}
	data, err := c.Get(ctx, redisChannelKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("read channel %s: %w", id, err)
	}
	return decodeRedisChannel(id, data)
}

// decodeRedisChannel decodes and checks the value of ls:ch:ID. A value
// that is not a channel is an error naming the key: the registry is never
// silently short of a channel.
func decodeRedisChannel(id, data string) (*fileChannel, error) {
	var fc fileChannel
	err := decodeStrict(data, &fc)
	if err == nil {
		err = checkStored(fc)
	}
	if err == nil && fc.ID != id {
		err = fmt.Errorf("holds channel %s", fc.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("redis key %s: %w", redisChannelKey(idForError(id)), err)
	}
	return &fc, nil
}
