package record

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// errStorageDown is what a gatedBackend returns while down, as a client
// gets "connection refused".
var errStorageDown = errors.New("storage down (test)")

// gatedBackend passes calls to a real Backend, except while it is down,
// or, once segmentsLeft segment uploads (.ts or .m4s, not init sections)
// have passed, for every segment.
type gatedBackend struct {
	Backend
	mu           sync.Mutex
	down         bool
	segmentsLeft int // segment uploads still let through; -1 for all
}

func newGatedBackend(b Backend) *gatedBackend { return &gatedBackend{Backend: b, segmentsLeft: -1} }

func (g *gatedBackend) block()   { g.mu.Lock(); g.down = true; g.mu.Unlock() }
func (g *gatedBackend) unblock() { g.mu.Lock(); g.down = false; g.mu.Unlock() }

func (g *gatedBackend) Put(ctx context.Context, name string, data []byte, contentType, cacheControl string) error {
	g.mu.Lock()
	down := g.down
	if (strings.HasSuffix(name, ".ts") || strings.HasSuffix(name, ".m4s")) && g.segmentsLeft >= 0 {
		if g.segmentsLeft == 0 {
			down = true
		} else {
			g.segmentsLeft--
		}
	}
	g.mu.Unlock()
	if down {
		return errStorageDown
	}
	return g.Backend.Put(ctx, name, data, contentType, cacheControl)
}
