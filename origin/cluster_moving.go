package origin

import (
	"bytes"
	"fmt"
	"sync"
	"time"
)

// A stream whose route vanished while it was live has not ended (an ended
// stream keeps its route, marked ended, and its playlists say ENDLIST): its
// server died or lost it, and its publisher is reconnecting, to any server
// of the cluster, which will continue it. Until that server sets its route
// its viewers get a 503, which players retry, rather than a 404, which
// they take for the end of the stream.

// movingGrace is how long after its last live playlist a stream with no
// route is taken to be moving between servers: the servers' default
// reconnect window.
const movingGrace = 30 * time.Second

// liveStreams remembers when each stream last served a live playlist
// (one without EXT-X-ENDLIST) through this origin.
type liveStreams struct {
	mu     sync.Mutex
	at     map[string]time.Time
	pruned time.Time
}

// saw notes a playlist of pid fetched now.
func (l *liveStreams) saw(pid string, playlist []byte, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	if bytes.Contains(playlist, []byte("#EXT-X-ENDLIST")) {
		delete(l.at, pid)
	} else {
		l.at[pid] = now
	}
	if now.Sub(l.pruned) > movingGrace {
		for p, t := range l.at {
			if now.Sub(t) > movingGrace {
				delete(l.at, p)
			}
		}
		l.pruned = now
	}
}

// moving reports whether pid, which has no route, was live through this
// origin within movingGrace.
func (l *liveStreams) moving(pid string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.at[pid]
	return ok && now.Sub(t) <= movingGrace
}

// errMoving is a stream between servers: 503, try again.
var errMoving = fmt.Errorf("%w: the stream is moving to another server", errUnavailable)
