package live

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// memoryContinuity is the cluster's registry for two Managers in one
// process: the position of each stream and who holds it; a claim tells
// the other Managers at once, as Redis pub/sub does.
type memoryContinuity struct {
	mu       sync.Mutex
	holder   map[string]time.Time // since of the stream that holds each playback id
	pos      map[string]Position
	managers []*Manager
}

func (c *memoryContinuity) Claim(_ context.Context, pid string, since time.Time) (Position, bool, error) {
	c.mu.Lock()
	pos, ok := c.pos[pid]
	if c.holder == nil {
		c.holder, c.pos = map[string]time.Time{}, map[string]Position{}
	}
	c.holder[pid] = since
	ms := c.managers
	c.mu.Unlock()
	for _, m := range ms {
		m.Moved(pid, since)
	}
	return pos, ok, nil
}

func (c *memoryContinuity) Advance(_ context.Context, pid string, since time.Time, pos Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holder[pid].Equal(since) {
		return ErrMoved
	}
	c.pos[pid] = pos
	return nil
}

// TestStreamContinuesOnAnotherServer: a publisher that dropped from one
// server and reconnects to another continues the stream there: segment
// numbers go on (one left out) after EXT-X-DISCONTINUITY, and the first
// server stops its copy without ending its playlists.
func TestStreamContinuesOnAnotherServer(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	reg := &memoryContinuity{}
	cfg := testConfig(t)
	cfg.ReconnectWindow = time.Minute
	cfg.Continuity = reg
	a, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	reg.managers = []*Manager{a, b}
	ch := channel(30)
	video, audio, packets := source(t)

	first, err := a.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets {
		if err := first.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	old := first.Stream()
	stA, _ := a.Lookup(ch.PlaybackID)
	testenv.WaitFor(t, 10*time.Second, func() bool {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		return reg.pos[ch.PlaybackID].Next > 0
	}, "the stream's position in the registry")
	first.End(errors.New("connection reset"))

	moved, err := b.Publish(ch, "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, old.isEnded, "the first server's copy to stop")
	plA := string(get(t, stA, "360p/index.m3u8"))
	if strings.Contains(plA, "#EXT-X-ENDLIST") {
		t.Errorf("the first server ended its playlist over the new server's:\n%s", plA)
	}
	lastA := segmentNumbers(t, []byte(plA))
	publish(t, moved)
	stB, _ := b.Lookup(ch.PlaybackID)
	plB := string(get(t, stB, "360p/index.m3u8"))
	seqB := segmentNumbers(t, []byte(plB))
	if len(lastA) == 0 || len(seqB) == 0 || seqB[0] != lastA[len(lastA)-1]+2 {
		t.Errorf("segments %v on the first server, %v on the second: want the second to go on after one left out", lastA, seqB)
	}
	if !strings.Contains(plB, "#EXT-X-DISCONTINUITY\n") || !strings.Contains(plB, "#EXT-X-ENDLIST") {
		t.Errorf("the second server's playlist:\n%s", plB)
	}
	// Its clean end: a publish after it starts a new stream.
	reg.mu.Lock()
	ended := reg.pos[ch.PlaybackID].Ended
	reg.mu.Unlock()
	if !ended {
		t.Error("the clean end is not in the registry")
	}
}
