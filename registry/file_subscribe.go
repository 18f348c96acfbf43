package registry

import (
	"context"
	"time"
)

// Subscribe calls fn with each Change, made here or by another process (see
// FileStore): a key rotated, a channel revoked, a destination added,
// updated or deleted, settings changed. An update that leaves things as
// they were is no change. fn runs on the goroutine that noticed the change (a caller of the
// FileStore, or its poll goroutine), possibly at the same time as other
// calls; it must not block, and may call the FileStore. A call under way
// when cancel is called may still finish after it.
func (s *FileStore) Subscribe(fn func(Change)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	select {
	case <-s.done:
	default:
		if !s.polling {
			s.polling = true
			s.wg.Add(1)
			go s.pollFile()
		}
	}
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

// pollFile re-reads the file when it changed, every s.poll until Close, so
// that subscribers hear of changes made by other processes even when no one
// calls this FileStore. A file that cannot be read is left for the next
// call to report.
func (s *FileStore) pollFile() {
	defer s.wg.Done()
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.current(context.Background())
		}
	}
}

// notify calls every subscriber with each change, outside s.mu so that
// they may call the FileStore.
func (s *FileStore) notify(changes []Change) {
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
