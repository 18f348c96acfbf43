package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/livestream/livestream/registry"
)

// staleListTimeout bounds Config.Servers when a last known list is there
// to fall back on: a healthy registry answers in a millisecond, and one
// that does not answer costs a publisher this much, not seconds of its
// client's retries or its whole ConnectTimeout.
const staleListTimeout = 500 * time.Millisecond

// serverList asks Config.Servers for each publish and keeps the last list
// it got, with its time, for the publishes that come while the registry
// cannot answer (Redis is away): they go to the servers known then, for
// up to Config.LastKnownServers. A server that has gone since fails its
// dial, and the next is tried. It is safe for concurrent use.
type serverList struct {
	list func(ctx context.Context) ([]registry.ServerInfo, error)
	keep time.Duration
	log  *slog.Logger

	mu           sync.Mutex
	last         []registry.ServerInfo
	at           time.Time // when last was listed
	failingSince time.Time // zero while Servers answers
}

// get returns the servers to try, stale=true when they are the last known
// list because Servers failed with err (which it returns too when there
// is no list to fall back on).
func (l *serverList) get(ctx context.Context) (servers []registry.ServerInfo, stale bool, err error) {
	l.mu.Lock()
	fallback := l.last != nil && time.Since(l.at) < l.keep
	l.mu.Unlock()
	callCtx := ctx
	if fallback {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, staleListTimeout)
		defer cancel()
	}
	servers, err = l.list(callCtx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		if !l.failingSince.IsZero() {
			l.log.Info("server list read again", "failed_for", time.Since(l.failingSince).Round(time.Millisecond))
			l.failingSince = time.Time{}
		}
		l.last, l.at = servers, time.Now()
		return servers, false, nil
	}
	if ctx.Err() != nil {
		// The publisher's ConnectTimeout is spent, or the proxy is
		// shutting down: no time left to dial anything.
		return nil, false, err
	}
	if l.failingSince.IsZero() {
		l.failingSince = time.Now()
		if l.last == nil {
			l.log.Warn("server list not read, and none known: publishes are refused", "err", err)
		} else {
			l.log.Warn("server list not read: publishes go to the last known servers", "err", err,
				"known", len(l.last), "listed_ago", time.Since(l.at).Round(time.Millisecond), "kept_for", l.keep)
		}
	}
	if l.last == nil || time.Since(l.at) >= l.keep {
		return nil, false, err
	}
	return l.last, true, nil
}
