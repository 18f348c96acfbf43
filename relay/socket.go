//go:build unix

package relay

import (
	"sync"
	"syscall"
)

// socket lets another goroutine abort a connection that go-rtmp owns.
// go-rtmp's client dials for us and sets no deadlines (its handshake and
// connect wait for ever), so the dialer's Control hook keeps a duplicate of
// each socket's descriptor: shutdown(2) on it wakes every blocked read and
// write of the connection, and since the duplicate is ours, it can never
// name another file after go-rtmp closes its own.
type socket struct {
	mu      sync.Mutex
	fds     []int
	aborted bool
}

func (s *socket) control(_, _ string, c syscall.RawConn) error {
	var dupErr error
	err := c.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		nfd, err := syscall.Dup(int(fd))
		if err == nil {
			syscall.CloseOnExec(nfd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			dupErr = err
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.fds = append(s.fds, nfd)
		if s.aborted {
			_ = syscall.Shutdown(nfd, syscall.SHUT_RDWR)
		}
	})
	if err != nil {
		return err
	}
	return dupErr
}

// abort shuts the connection down in both directions. It may be called
// from any goroutine, any number of times.
func (s *socket) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	for _, fd := range s.fds {
		_ = syscall.Shutdown(fd, syscall.SHUT_RDWR)
	}
}

// closeWrite sends FIN after what is already written: the peer reads to
// its end and closes, while our reads go on.
func (s *socket) closeWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range s.fds {
		_ = syscall.Shutdown(fd, syscall.SHUT_WR)
	}
}

// release closes the duplicates, once the connection is closed.
func (s *socket) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range s.fds {
		_ = syscall.Close(fd)
	}
	s.fds = nil
}
