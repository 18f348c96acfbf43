package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxTxAttempts bounds how often a transaction is retried when other
// clients keep writing the keys it watches: a few concurrent admin calls on
// one channel settle in a handful of rounds.
const maxTxAttempts = 100

// errTaken says that an id drawn for a new channel or destination is used
// already: draw again.
var errTaken = errors.New("id taken")

// mutate runs change in a transaction that watches channel id, with the
// channel as stored; change writes with tx.TxPipelined and returns the
// changes to tell subscribers, which are told once it committed. A
// transaction that another client interfered with runs again.
func (s *RedisStore) mutate(ctx context.Context, id string, change func(tx *redis.Tx, fc *fileChannel) ([]Change, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validChannelID(id) {
		return ErrNotFound
	}
	var changes []Change
	for range maxTxAttempts {
		err := s.transact(ctx, func(tx *redis.Tx) error {
			fc, err := s.load(ctx, tx, id)
			if err != nil {
				return err
			}
			changes, err = change(tx, fc)
			return err
		}, redisChannelKey(id))
		if errors.Is(err, errTaken) {
			continue
		}
		if err != nil {
			return err
		}
		s.notify(changes)
		return nil
	}
	return errors.New("no unused id found")
}

// transact runs fn with keys watched, again as long as another client
// wrote one of them before fn's EXEC (up to maxTxAttempts times), after a
// pause that grows with each try so that contenders spread out.
func (s *RedisStore) transact(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	for attempt := range maxTxAttempts {
		err := s.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		t := time.NewTimer(rand.N(time.Duration(min(attempt, 20)+1) * 200 * time.Microsecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return errors.New("gave up after other clients changed the same channel " + strconv.Itoa(maxTxAttempts) + " times")
}

// decodeStrict decodes the JSON value data into v, refusing unknown fields
// and anything after the value: what Redis holds may have been written by
// another program or a newer livestream.
func decodeStrict(data string, v any) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}
