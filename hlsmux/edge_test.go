package hlsmux

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

// positionCases: what a playlist at pos answers a blocking request for
// (msn, part), part -1 being the whole segment (RFC 8216bis §6.2.5.2).
var positionCases = []struct {
	pos        Position
	msn        int64
	part       int
	has, ahead bool
}{
	// Segment 10 being written, parts 0..2 listed.
	{Position{MSN: 10, Part: 2}, 9, -1, true, false},
	{Position{MSN: 10, Part: 2}, 9, 7, true, false}, // a past segment holds any part asked of it
	{Position{MSN: 10, Part: 2}, 10, 2, true, false},
	{Position{MSN: 10, Part: 2}, 10, 3, false, false},
	{Position{MSN: 10, Part: 2}, 10, 5, false, false}, // three past the last part
	{Position{MSN: 10, Part: 2}, 10, 6, false, true},  // four past
	{Position{MSN: 10, Part: 2}, 10, -1, false, false},
	{Position{MSN: 10, Part: 2}, 11, -1, false, false}, // last complete (9) plus two
	{Position{MSN: 10, Part: 2}, 11, 9, false, false},  // a later segment's parts are not counted
	{Position{MSN: 10, Part: 2}, 12, -1, false, true},
	{Position{MSN: 10, Part: 2}, 12, 0, false, true},
	// Segment 10 complete with parts 0..3: the next is part 0 of 11.
	{Position{MSN: 10, Part: 3, Complete: true}, 10, -1, true, false},
	{Position{MSN: 10, Part: 3, Complete: true}, 10, 4, true, false}, // past the last part: the next segment's first
	{Position{MSN: 10, Part: 3, Complete: true}, 11, 0, false, false},
	{Position{MSN: 10, Part: 3, Complete: true}, 11, 2, false, false},
	{Position{MSN: 10, Part: 3, Complete: true}, 11, 3, false, true},
	{Position{MSN: 10, Part: 3, Complete: true}, 12, -1, false, false},
	{Position{MSN: 10, Part: 3, Complete: true}, 13, -1, false, true},
}

func TestPositionHasAhead(t *testing.T) {
	for _, c := range positionCases {
		if got := c.pos.Has(c.msn, c.part); got != c.has {
			t.Errorf("%+v.Has(%d, %d) = %v, want %v", c.pos, c.msn, c.part, got, c.has)
		}
		if got := c.pos.Ahead(c.msn, c.part); got != c.ahead {
			t.Errorf("%+v.Ahead(%d, %d) = %v, want %v", c.pos, c.msn, c.part, got, c.ahead)
		}
	}
}

// waitResult is what a Wait started by startWait returned.
type waitResult struct {
	res WaitResult
	err error
}

func startWait(ctx context.Context, e *Edge, rendition string, msn int64, part int) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		res, err := e.Wait(ctx, rendition, msn, part)
		ch <- waitResult{res, err}
	}()
	return ch
}

// blocked reports whether ch has no answer once every goroutine of the
// bubble is durably blocked.
func blocked(ch <-chan waitResult) bool {
	synctest.Wait()
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

func TestEdgeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := NewEdge()
		ctx := t.Context()
		// Before its first part, a rendition is waited for, whatever asked.
		first := startWait(ctx, e, "720p", 100, 3)
		if !blocked(first) {
			t.Fatal("a wait on a rendition with nothing listed returned")
		}
		e.Advance("720p", Position{MSN: 100, Part: 0})
		if !blocked(first) {
			t.Fatal("part 3 was waited for while part 0 is listed, and answered")
		}
		e.Advance("720p", Position{MSN: 100, Part: 3})
		if got := <-first; got.res != Ready || got.err != nil {
			t.Fatalf("Wait = %v, %v; want Ready", got.res, got.err)
		}
		// Listed already: at once.
		if res, err := e.Wait(ctx, "720p", 99, -1); res != Ready || err != nil {
			t.Fatalf("Wait for a past segment = %v, %v", res, err)
		}
		// Too far: at once.
		if res, err := e.Wait(ctx, "720p", 102, -1); res != TooFar || err != nil {
			t.Fatalf("Wait two segments ahead = %v, %v; want TooFar", res, err)
		}
		// The whole segment, answered when it completes.
		whole := startWait(ctx, e, "720p", 100, -1)
		if !blocked(whole) {
			t.Fatal("segment 100 was answered before it was complete")
		}
		e.Advance("720p", Position{MSN: 100, Part: 6, Complete: true})
		if got := <-whole; got.res != Ready || got.err != nil {
			t.Fatalf("Wait = %v, %v; want Ready", got.res, got.err)
		}
		// The caller's deadline.
		dctx, cancel := context.WithTimeout(ctx, 3*6*time.Second)
		defer cancel()
		start := time.Now()
		res, err := e.Wait(dctx, "720p", 101, 2)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 18*time.Second {
			t.Fatalf("Wait past its deadline = %v, %v after %v", res, err, time.Since(start))
		}
	})
}

func TestEdgeEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := NewEdge()
		ctx := t.Context()
		e.Advance("720p", Position{MSN: 7, Part: 1})
		e.Advance("360p", Position{MSN: 7, Part: 1})
		w720 := startWait(ctx, e, "720p", 7, 3)
		w360 := startWait(ctx, e, "360p", 7, 3)
		unknown := startWait(ctx, e, "1080p", 7, 0)
		e.End("720p")
		if got := <-w720; got.res != Ended || got.err != nil {
			t.Fatalf("Wait on an ended rendition = %v, %v; want Ended", got.res, got.err)
		}
		if !blocked(w360) || !blocked(unknown) {
			t.Fatal("ending 720p answered another rendition's waiters")
		}
		e.EndAll()
		for name, ch := range map[string]<-chan waitResult{"360p": w360, "1080p": unknown} {
			if got := <-ch; got.res != Ended || got.err != nil {
				t.Fatalf("Wait on %s after EndAll = %v, %v; want Ended", name, got.res, got.err)
			}
		}
		// What is listed is still Ready after the end; the rest Ended.
		if res, _ := e.Wait(ctx, "720p", 7, 1); res != Ready {
			t.Errorf("Wait for a listed part after the end = %v", res)
		}
		if res, _ := e.Wait(ctx, "240p", 0, 0); res != Ended {
			t.Errorf("Wait on a rendition first seen after EndAll = %v", res)
		}
	})
}

// TestEdgeWaitAddsNothing: waits on made-up rendition names do not grow
// the edge (any viewer can ask for any name), yet a rendition that
// appears later wakes its waiters.
func TestEdgeWaitAddsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := NewEdge()
		ctx, cancel := context.WithCancel(t.Context())
		var waits []<-chan waitResult
		for i := range 100 {
			waits = append(waits, startWait(ctx, e, fmt.Sprintf("made-up-%d", i), 1, 0))
		}
		late := startWait(t.Context(), e, "480p", 1, 0)
		synctest.Wait()
		if n := len(e.rends); n != 0 {
			t.Fatalf("%d renditions after waits on unknown names, want 0", n)
		}
		e.Advance("720p", Position{MSN: 1, Part: 0})
		if !blocked(late) {
			t.Fatal("480p's waiter was answered by 720p")
		}
		e.Advance("480p", Position{MSN: 1, Part: 0})
		if got := <-late; got.res != Ready {
			t.Fatalf("Wait on 480p once it appeared = %v, %v", got.res, got.err)
		}
		cancel()
		for _, w := range waits {
			if got := <-w; !errors.Is(got.err, context.Canceled) {
				t.Fatalf("cancelled Wait = %v, %v", got.res, got.err)
			}
		}
		if n := len(e.rends); n != 2 {
			t.Fatalf("%d renditions, want 2", n)
		}
	})
}

func TestEdgeOthers(t *testing.T) {
	e := NewEdge()
	e.Advance("720p", Position{MSN: 5, Part: 2})
	e.Advance("1080p", Position{MSN: 5, Part: 1})
	e.Advance("360p", Position{MSN: 4, Part: 3, Complete: true})
	e.End("240p") // listed nothing
	got := e.Others("720p")
	want := []RenditionPosition{
		{"1080p", Position{MSN: 5, Part: 1}},
		{"360p", Position{MSN: 4, Part: 3, Complete: true}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Others(720p) = %+v, want %+v", got, want)
	}
	if p, ok := e.Position("720p"); !ok || p != (Position{MSN: 5, Part: 2}) {
		t.Fatalf("Position(720p) = %+v, %v", p, ok)
	}
	if _, ok := e.Position("240p"); ok {
		t.Fatal("Position of a rendition that listed nothing is ok")
	}
}
