package registry

import (
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// instanceIDLen is the length of the id that marks a RedisStore's own
// change messages, so that it does not tell its subscribers twice.
const instanceIDLen = 16

// changeVersion starts every change message; a message of another version
// (a newer livestream's) is ignored rather than misread.
const changeVersion = "v1"

// formatChange is the pub/sub message for change c made by the RedisStore
// with instance id from: "v1 FROM KIND CHANNEL_ID", KIND as a number.
func formatChange(from string, c Change) string {
	return changeVersion + " " + from + " " + strconv.Itoa(int(c.What)) + " " + c.ChannelID
}

// parseChange parses a message of formatChange. Messages come from
// whatever can publish on the Redis, so every field is checked.
func parseChange(msg string) (from string, c Change, err error) {
	f := strings.Split(msg, " ")
	if len(f) != 4 || f[0] != changeVersion {
		return "", Change{}, errors.New(`change message: want "v1 FROM KIND CHANNEL_ID"`)
	}
	if len(f[1]) != instanceIDLen || !inAlphabet(f[1], idAlphabet) {
		return "", Change{}, errors.New("change message: bad instance id")
	}
	kind, err := strconv.Atoi(f[2])
	if err != nil || f[2] != strconv.Itoa(kind) || ChangeKind(kind) < KeyChanged || ChangeKind(kind) > SettingsChanged {
		return "", Change{}, errors.New("change message: bad kind")
	}
	if !validChannelID(f[3]) {
		return "", Change{}, errors.New("change message: bad channel id")
	}
	return f[1], Change{ChannelID: f[3], What: ChangeKind(kind)}, nil
}

// Subscribe calls fn with each Change made through any RedisStore of the
// cluster: a key rotated, a channel revoked, a destination added, updated
// or deleted, settings changed (an update that leaves things as they were
// is no change). Changes
// made through this store are told before the call that made them
// returns, on that caller's goroutine; others when Redis delivers them, on
// the store's pub/sub goroutine, one at a time. fn must not block, and may
// call the store. A call under way when cancel is called may still finish
// after it.
//
// Redis pub/sub does not queue: a change published while this store's
// subscription connection is down (go-redis reconnects it) is not heard.
// A live stream's key is checked again at its next publish.
func (s *RedisStore) Subscribe(fn func(Change)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

// listen tells subscribers of the changes other stores publish, until the
// subscription is closed. Messages that do not parse are dropped.
func (s *RedisStore) listen(msgs <-chan *redis.Message) {
	for m := range msgs {
		from, c, err := parseChange(m.Payload)
		if err != nil || from == s.instance {
			continue
		}
		s.notify([]Change{c})
	}
}

// notify calls every subscriber with each change, holding no lock, so that
// they may call the store.
func (s *RedisStore) notify(changes []Change) {
	if len(changes) == 0 {
		return
	}
	s.subMu.Lock()
	fns := make([]func(Change), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}
