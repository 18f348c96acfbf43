package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

var _ Store = (*FileStore)(nil)

// pollInterval is how often a FileStore with subscribers looks for changes
// made by other processes.
const pollInterval = time.Second

// errClosed is returned by a FileStore's methods after Close.
var errClosed = errors.New("registry is closed")

// FileStore is the in-process Store of `livestream serve`: channels kept in
// one JSON file, holding each key's SHA-256 hash and never the key.
//
// Several processes may share the file: `livestream keys` edits it while
// `serve` runs. A mutation takes an exclusive flock(2) on the sibling file
// PATH.lock, re-reads the file, and replaces it atomically (temporary file,
// fsync, rename, fsync of the directory), so no change made elsewhere is
// lost and no reader sees half a file. Reads take no lock: each stats the
// file and re-reads it when its inode, size or mtime changed.
//
// Subscribers hear of rotations, revocations, destination and settings
// changes made through this FileStore as soon as they are written, and of
// those made by other processes when this FileStore next reads the file:
// on any call, and at the latest within a second, from a goroutine that
// polls the file from the first Subscribe until Close.
//
// A FileStore is safe for concurrent use. Close it when done.
type FileStore struct {
	path string
	poll time.Duration // tests shorten it

	mu     sync.Mutex // serialises this FileStore's reads and mutations
	lock   *os.File   // PATH.lock, flocked during mutations
	snap   *snapshot
	stamp  stamp
	closed bool

	subMu   sync.Mutex
	subs    map[int]func(Change)
	nextSub int
	polling bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// OpenFile opens the channels file at path, creating it (mode 0600, holding
// no channel) and its directory (mode 0700) if need be. A file that is not a
// channels file is an error naming path: the registry is never silently
// empty.
func OpenFile(path string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create registry directory: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open registry lock: %w", err)
	}
	s := &FileStore{path: path, poll: pollInterval, lock: lock, subs: map[int]func(Change){}, done: make(chan struct{})}
	if err := s.init(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// init loads the file, or writes an empty one if there is none yet; under
// the lock, so that two processes starting at once agree.
func (s *FileStore) init() error {
	if err := lockExclusive(context.Background(), s.lock); err != nil {
		return fmt.Errorf("lock registry %s: %w", s.path, err)
	}
	defer unlock(s.lock)
	_, err := s.load()
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	empty, _ := newSnapshot(nil)
	st, err := writeAtomic(s.path, empty.encode())
	if err != nil {
		return fmt.Errorf("create registry file: %w", err)
	}
	s.snap, s.stamp = empty, st
	return nil
}

// Close stops the poll goroutine, if Subscribe started one, and releases
// the lock file. Calls after Close return an error. Close is idempotent.
func (s *FileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.lock.Close()
	s.mu.Unlock()

	s.subMu.Lock()
	close(s.done)
	s.subMu.Unlock()
	s.wg.Wait()
	return err
}

// Create makes a channel named name, which must pass the checks of
// ErrInvalidName, and returns it with its stream key.
func (s *FileStore) Create(ctx context.Context, name string) (Channel, string, error) {
	if err := checkName(name); err != nil {
		return Channel{}, "", err
	}
	var c Channel
	var key string
	err := s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
		now := time.Now().UTC()
		fc := fileChannel{Channel: Channel{Name: name, CreatedAt: now, KeyRotatedAt: now}}
		fc.ID = unused(cur.byID, newChannelID)
		fc.PlaybackID = unused(cur.byPID, newPlaybackID)
		key = unusedKey(cur)
		fc.KeyHash = hashKey(key)
		c = fc.Channel
		return append(slices.Clone(cur.channels), fc), nil
	})
	if err != nil {
		return Channel{}, "", fmt.Errorf("create channel: %w", err)
	}
	return c, key, nil
}

// Rotate issues a new stream key for channel id; the old one stops working
// as soon as Rotate returns, in this process and in every process that reads
// the file. Subscribers are called before it returns.
func (s *FileStore) Rotate(ctx context.Context, id string) (Channel, string, error) {
	var c Channel
	var key string
	err := s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
		i, ok := cur.byID[id]
		if !ok {
			return nil, ErrNotFound
		}
		channels := slices.Clone(cur.channels)
		key = unusedKey(cur)
		channels[i].KeyHash = hashKey(key)
		channels[i].KeyRotatedAt = time.Now().UTC()
		c = channels[i].Channel
		return channels, nil
	})
	if err != nil {
		return Channel{}, "", fmt.Errorf("rotate key of %s: %w", idForError(id), err)
	}
	return c, key, nil
}

// Revoke deletes channel id, its key and its destinations. Subscribers are
// called before it returns.
func (s *FileStore) Revoke(ctx context.Context, id string) error {
	err := s.mutate(ctx, func(cur *snapshot) ([]fileChannel, error) {
		i, ok := cur.byID[id]
		if !ok {
			return nil, ErrNotFound
		}
		return slices.Delete(slices.Clone(cur.channels), i, i+1), nil
	})
	if err != nil {
		return fmt.Errorf("revoke %s: %w", idForError(id), err)
	}
	return nil
}

// List returns every channel, oldest first.
func (s *FileStore) List(ctx context.Context) ([]Channel, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.list(), nil
}

// Get returns channel id, or ErrNotFound.
func (s *FileStore) Get(ctx context.Context, id string) (Channel, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return Channel{}, err
	}
	c, ok := snap.lookup(snap.byID, id)
	if !ok {
		return Channel{}, ErrNotFound
	}
	return c.Channel, nil
}

// ByPlaybackID returns the channel with playback id pid, or ErrNotFound.
func (s *FileStore) ByPlaybackID(ctx context.Context, pid string) (Channel, error) {
	snap, err := s.current(ctx)
	if err != nil {
		return Channel{}, err
	}
	c, ok := snap.lookup(snap.byPID, pid)
	if !ok {
		return Channel{}, ErrNotFound
	}
	return c.Channel, nil
}

// Authenticate returns the channel whose stream key is key. A malformed key
// is refused before any lookup; a well-formed one is hashed and the hash
// looked up, so the time taken depends on the hash, never on how much of a
// real key was guessed.
func (s *FileStore) Authenticate(ctx context.Context, key string) (Channel, error) {
	if err := checkKey(key); err != nil {
		return Channel{}, err
	}
	snap, err := s.current(ctx)
	if err != nil {
		return Channel{}, err
	}
	c, ok := snap.lookup(snap.byHash, hashKey(key))
	if !ok {
		return Channel{}, ErrUnknownKey
	}
	return c.Channel, nil
}

// current returns the registry as the file holds it now, re-reading the
// file if it changed since the last read, and notifies subscribers of what
// changed meanwhile.
func (s *FileStore) current(ctx context.Context) (*snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	var changes []Change
	fi, err := os.Stat(s.path)
	if err == nil && !stampOf(fi).equal(s.stamp) {
		changes, err = s.load()
	} else if err != nil {
		err = fmt.Errorf("read registry: %w", err)
	}
	snap := s.snap
	s.mu.Unlock()
	s.notify(changes)
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// mutate applies change to the registry as the file holds it, under the
// lock, and writes the result. change returns the new channels, oldest
// first, or an error to leave the file as it is.
func (s *FileStore) mutate(ctx context.Context, change func(*snapshot) ([]fileChannel, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	changes, err := s.mutateLocked(ctx, change)
	s.mu.Unlock()
	s.notify(changes)
	return err
}

func (s *FileStore) mutateLocked(ctx context.Context, change func(*snapshot) ([]fileChannel, error)) (changes []Change, err error) {
	if s.closed {
		return nil, errClosed
	}
	if err := lockExclusive(ctx, s.lock); err != nil {
		return nil, fmt.Errorf("lock registry %s: %w", s.path, err)
	}
	defer func() {
		if uerr := unlock(s.lock); uerr != nil && err == nil {
			err = uerr
		}
	}()
	// Re-read whatever the stamp says: another process may have written
	// just before we took the lock.
	changes, err = s.load()
	if err != nil {
		return changes, err
	}
	channels, err := change(s.snap)
	if err != nil {
		return changes, err
	}
	next, err := newSnapshot(channels)
	if err != nil {
		return changes, fmt.Errorf("registry %s: %w", s.path, err) // a bug in change
	}
	st, err := writeAtomic(s.path, next.encode())
	if err != nil {
		return changes, fmt.Errorf("write registry: %w", err)
	}
	changes = append(changes, s.snap.changes(next)...)
	s.snap, s.stamp = next, st
	return changes, nil
}

// load reads the file into s.snap and returns what changed for
// subscribers (snapshot.changes). s.mu is held.
func (s *FileStore) load() (changes []Change, err error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("registry file %s: larger than %d MiB", s.path, maxFileSize>>20)
	}
	next, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("registry file %s: %w", s.path, err)
	}
	changes = s.snap.changes(next)
	s.snap, s.stamp = next, stampOf(fi)
	return changes, nil
}

// unused draws ids from gen until one not in taken. Ids are random and
// wide enough that the first draw is all but certain to do.
func unused(taken map[string]int, gen func() string) string {
	for {
		id := gen()
		if _, ok := taken[id]; !ok {
			return id
		}
	}
}

// unusedKey returns a new stream key whose hash no channel of cur has.
func unusedKey(cur *snapshot) string {
	for {
		key := newStreamKey()
		if _, ok := cur.byHash[hashKey(key)]; !ok {
			return key
		}
	}
}
