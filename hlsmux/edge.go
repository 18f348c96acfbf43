package hlsmux

import (
	"context"
	"slices"
	"sync"
)

// Position is the newest part a rendition's live playlist lists.
type Position struct {
	// MSN is the media sequence number of the segment the part belongs to.
	MSN int64
	// Part is the part's index in that segment (0 is its first).
	Part int
	// Complete says segment MSN is complete: the part is its last, and
	// the next part to come is part 0 of segment MSN+1.
	Complete bool
}

// Has reports whether a playlist at position p holds what a blocking
// playlist request (RFC 8216bis §6.2.5.2) waits for: part part of segment
// msn, or with part < 0 the whole segment msn. A part index past the
// last part of a complete segment is the next segment's first part, as the
// spec says a server must treat it.
func (p Position) Has(msn int64, part int) bool {
	switch {
	case msn < p.MSN:
		return true
	case msn > p.MSN:
		return false
	case part < 0:
		return p.Complete
	default:
		return part <= p.Part || p.Complete
	}
}

// Ahead reports whether a blocking request for msn and part asks too far
// into the future (RFC 8216bis §6.2.5.2): a segment more than two past the
// last complete one, or a part more than advancePartLimit past the last
// part. The server answers such a request at once with 400.
func (p Position) Ahead(msn int64, part int) bool {
	lastComplete := p.MSN - 1
	if p.Complete {
		lastComplete = p.MSN
	}
	if msn > lastComplete+2 {
		return true
	}
	// Parts are counted only within the segment being written, the one
	// after the last complete: a request for a later segment's part waits
	// (at most the caller's deadline), since how many parts this segment
	// will have is not known yet.
	next := lastComplete + 1
	if part < 0 || msn != next {
		return false
	}
	last := -1 // index of the last part listed in segment next
	if !p.Complete {
		last = p.Part
	}
	return part-last > advancePartLimit
}

// advancePartLimit is how many parts past the last one a blocking request
// may ask for (RFC 8216bis §6.2.5.2: "Advance Part Limit").
const advancePartLimit = 3

// RenditionPosition is one rendition's position, for EXT-X-RENDITION-REPORT.
type RenditionPosition struct {
	Name string
	Position
}

// Edge is the live edge of a stream's renditions: the newest part each
// playlist lists. Segmenters advance it after their playlist is in the
// store; an origin waits on it to answer blocking playlist requests, and
// reads it for rendition reports. It is safe for concurrent use. The zero
// value is not usable: call NewEdge.
type Edge struct {
	mu    sync.Mutex
	rends map[string]*edgeRendition
	ended bool
	// added is closed and replaced when a rendition appears, or the
	// stream ends: it wakes the waiters of renditions not yet known,
	// which Wait does not add to rends (a viewer asking for made-up
	// rendition names must not grow the map).
	added chan struct{}
}

type edgeRendition struct {
	pos   Position
	known bool          // a part was listed
	ended bool          // the playlist has EXT-X-ENDLIST
	wake  chan struct{} // closed and replaced on each change
}

// NewEdge returns an edge with no renditions.
func NewEdge() *Edge {
	return &Edge{rends: map[string]*edgeRendition{}, added: make(chan struct{})}
}

// rendition returns name's state, adding it if it is new; e.mu is held.
func (e *Edge) rendition(name string) *edgeRendition {
	r, ok := e.rends[name]
	if !ok {
		r = &edgeRendition{wake: make(chan struct{}), ended: e.ended}
		e.rends[name] = r
		close(e.added)
		e.added = make(chan struct{})
	}
	return r
}

// Advance says rendition's playlist, now in the store, lists p.
func (e *Edge) Advance(rendition string, p Position) {
	e.mu.Lock()
	r := e.rendition(rendition)
	r.pos, r.known = p, true
	close(r.wake)
	r.wake = make(chan struct{})
	e.mu.Unlock()
}

// End says rendition's playlist is complete (EXT-X-ENDLIST): nothing it
// does not list yet ever will be, so its waiters are answered now.
func (e *Edge) End(rendition string) {
	e.mu.Lock()
	r := e.rendition(rendition)
	if !r.ended {
		r.ended = true
		close(r.wake)
		r.wake = make(chan struct{})
	}
	e.mu.Unlock()
}

// EndAll ends every rendition, and those that appear later: the stream
// is over.
func (e *Edge) EndAll() {
	e.mu.Lock()
	if !e.ended {
		close(e.added)
		e.added = make(chan struct{})
	}
	e.ended = true
	for _, r := range e.rends {
		if !r.ended {
			r.ended = true
			close(r.wake)
			r.wake = make(chan struct{})
		}
	}
	e.mu.Unlock()
}

// Position returns rendition's newest part; ok is false before its first.
func (e *Edge) Position(rendition string) (p Position, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, found := e.rends[rendition]
	if !found || !r.known {
		return Position{}, false
	}
	return r.pos, true
}

// Others returns the positions of every rendition but rendition that has
// listed a part, by name.
func (e *Edge) Others(rendition string) []RenditionPosition {
	e.mu.Lock()
	out := make([]RenditionPosition, 0, len(e.rends))
	for name, r := range e.rends {
		if name != rendition && r.known {
			out = append(out, RenditionPosition{Name: name, Position: r.pos})
		}
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b RenditionPosition) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// WaitResult says how a Wait ended.
type WaitResult int

const (
	// Ready: the playlist lists what was asked for.
	Ready WaitResult = iota
	// Ended: the playlist is complete without it; serve it as it is.
	Ended
	// TooFar: the request is too far ahead of the playlist (answer 400).
	TooFar
)

// Wait blocks until rendition's playlist lists part part of segment msn
// (part < 0: the whole segment), its playlist ends, or ctx is done (the
// caller's deadline: RFC 8216bis wants a 503 after three target
// durations). It returns at once with TooFar for a request too far ahead
// of a rendition that has listed a part; a rendition that has listed
// nothing yet is waited for.
func (e *Edge) Wait(ctx context.Context, rendition string, msn int64, part int) (WaitResult, error) {
	for {
		var (
			pos          Position
			known, ended bool
			wake         chan struct{}
		)
		e.mu.Lock()
		if r, ok := e.rends[rendition]; ok {
			pos, known, ended, wake = r.pos, r.known, r.ended || e.ended, r.wake
		} else {
			ended, wake = e.ended, e.added
		}
		e.mu.Unlock()
		switch {
		case known && pos.Has(msn, part):
			return Ready, nil
		case ended:
			return Ended, nil
		case known && pos.Ahead(msn, part):
			return TooFar, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Ready, ctx.Err()
		}
	}
}
