package hlsmux

import (
	"sort"
	"strings"
	"sync"
)

// MemoryStore keeps everything in a map: the default for live streams. It
// is safe for concurrent use; Put swaps the slice under a lock, so readers
// see the old bytes or the new ones.
type MemoryStore struct {
	mu    sync.RWMutex
	files map[string][]byte
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{files: map[string][]byte{}} }

// Put stores data under name (no copy: the caller hands data over).
func (s *MemoryStore) Put(name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	s.files[name] = data
	s.mu.Unlock()
	return nil
}

// Get returns name's content (the slice that was put: do not modify it).
func (s *MemoryStore) Get(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	b, ok := s.files[name]
	s.mu.RUnlock()
	if !ok {
		return nil, ErrNotFound
	}
	return b, nil
}

// Delete removes name.
func (s *MemoryStore) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.files, name)
	s.mu.Unlock()
	return nil
}

// List returns the names under prefix, sorted.
func (s *MemoryStore) List(prefix string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var names []string
	for n := range s.files {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Size is the total bytes stored.
func (s *MemoryStore) Size() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, b := range s.files {
		n += int64(len(b))
	}
	return n
}
