package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/pipeline"
)

// Continuity carries a stream across the servers of a cluster (the server
// role adapts Redis to it): when a publisher reconnects to another server
// (its own died or drains, or the proxy picked another), that server
// continues the stream for viewers: its segment numbers go on from the
// last one listed, after an EXT-X-DISCONTINUITY. It also keeps one
// publisher per channel across the cluster: the server a publish lands on
// claims the channel's stream, and the server that held it stops its copy
// (Manager.Moved) without ending its playlists, which origins stop reading
// once the new server's route is set.
//
// Its methods are called with a short timeout and never from the ladder's
// goroutines: an unreachable registry starts a new stream, as a single
// server would, and costs the ladder nothing.
type Continuity interface {
	// Claim says this server holds playbackID's stream, which started
	// here at since, and returns where the stream another server held
	// stopped; ok is false when there is none to continue (never live,
	// or ended longer ago than the reconnect window). The server that held
	// it is told to stop its copy.
	Claim(ctx context.Context, playbackID string, since time.Time) (pos Position, ok bool, err error)
	// Advance records where playbackID's stream, started here at since,
	// is now. It fails with ErrMoved when another server has claimed it.
	Advance(ctx context.Context, playbackID string, since time.Time, pos Position) error
}

// Position is where a stream's playlists are: the number of the next
// segment, and how many discontinuities came before it.
type Position struct {
	Next            int64 `json:"next"`
	Discontinuities int   `json:"discontinuities"`
	// Ended: the stream ended here (a clean unpublish, or a window that
	// closed), so a new publish starts a new stream, not a continuation.
	Ended bool `json:"ended,omitempty"`
}

// ErrMoved ends a stream here whose channel publishes on another server
// of the cluster now.
var ErrMoved = errors.New("the channel's stream moved to another server")

// continuityTimeout bounds a Claim: a new stream waits this long at most
// for the registry before it starts on its own.
const continuityTimeout = time.Second

// claim asks the cluster whether the stream of pid continues one another
// server held; m.mu is not held.
func (m *Manager) claim(pid string, since time.Time) (Position, bool) {
	if m.cfg.Continuity == nil {
		return Position{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), continuityTimeout)
	defer cancel()
	pos, ok, err := m.cfg.Continuity.Claim(ctx, pid, since)
	if err != nil {
		m.log.Warn("stream continuity unknown: the stream starts anew", "playback_id", pid, "err", err)
		return Position{}, false
	}
	return pos, ok
}

// Moved stops this server's copy of playbackID's stream when it is older
// than since: the channel publishes on another server now. Its publisher,
// if still connected, is disconnected; its ladder stops without ending its
// playlists (the new server continues them); its recording session ends.
func (m *Manager) Moved(playbackID string, since time.Time) {
	m.mu.Lock()
	s := m.streams[playbackID]
	m.mu.Unlock()
	if s == nil || s.isEnded() || !s.begun.Before(since) {
		return
	}
	s.moved()
}

// moved is Moved for this stream.
func (s *Stream) moved() {
	s.mu.Lock()
	if s.stopping || s.closed {
		s.mu.Unlock()
		return
	}
	s.stopping = true
	p := s.pub
	s.mu.Unlock()
	s.log.Warn("the channel publishes on another server now: this copy of the stream stops")
	// Abort the ladder: no last segment, no ENDLIST over the new server's.
	s.cancel()
	if p != nil {
		p.kick()
	}
	go s.End(ErrMoved)
}

// advancer keeps a stream's Position in the cluster: the latest one goes
// out, from a goroutine of its own, so a slow registry never holds a
// rendition; positions that came meanwhile are skipped.
type advancer struct {
	s *Stream
	c Continuity

	mu      sync.Mutex
	pos     Position
	pending bool
	running bool
	done    sync.WaitGroup // the sending goroutine
}

// segment notes that the first rendition listed seg.
func (a *advancer) segment(seg hlsmux.SegmentInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pos.Next = seg.Seq + 1
	if seg.Discontinuity {
		a.pos.Discontinuities++
	}
	a.send()
}

// end records that the stream ended here, and waits (within
// routeCallTimeout) until that is out.
func (a *advancer) end() {
	a.mu.Lock()
	a.pos.Ended = true
	a.send()
	a.mu.Unlock()
	a.done.Wait()
}

// send starts the goroutine that sends a.pos, unless it runs; a.mu is held.
func (a *advancer) send() {
	a.pending = true
	if !a.running {
		a.running = true
		a.done.Add(1)
		go a.run()
	}
}

func (a *advancer) run() {
	defer a.done.Done()
	for {
		a.mu.Lock()
		if !a.pending {
			a.running = false
			a.mu.Unlock()
			return
		}
		pos := a.pos
		a.pending = false
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), routeCallTimeout)
		err := a.c.Advance(ctx, a.s.ch.PlaybackID, a.s.begun, pos)
		cancel()
		if errors.Is(err, ErrMoved) && !pos.Ended {
			a.s.moved()
		}
	}
}

// continuation is the pipeline's view of where the stream continues.
func (s *Stream) continuation() *pipeline.Continuation {
	if !s.continues {
		return nil
	}
	return &pipeline.Continuation{DiscontinuitySequence: s.discBase}
}
