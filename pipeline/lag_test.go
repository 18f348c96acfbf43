package pipeline

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// feedRealTime sends the file's packets at the pace a live publisher
// would, each when its DTS is due on the wall clock, as an RTMP publisher
// with -re does; it closes out at the end.
func feedRealTime(ctx context.Context, t *testing.T, dmx *codec.Demuxer, out chan<- *media.Packet) {
	defer close(out)
	start := time.Now()
	first, started := int64(0), false
	for {
		p, err := dmx.ReadPacket()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		if !started {
			first, started = p.DTS, true
		}
		// Pacing a publisher, not waiting for an event.
		if d := time.Until(start.Add(media.Duration(p.DTS - first))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
	}
}

// burnCPU starts processes that spin on every core (as another tenant of
// the machine would) until the returned stop is called.
func burnCPU(t *testing.T, n int) (stop func()) {
	var cmds []*exec.Cmd
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, c := range cmds {
				c.Process.Kill()
				c.Wait()
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestStarvedLadderKeepsItsLagBudget: a live 720p30 ladder whose machine
// is taken by other processes for 8 s falls behind, skips pictures (never
// a keyframe) to stay near its lag budget instead of falling further, and
// is back at the live edge soon after the machine is free; every segment
// still starts on a keyframe and none is longer than the target.
func TestStarvedLadderKeepsItsLagBudget(t *testing.T) {
	const budget = 2 * time.Second
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 18, Audio: true})
	dmx, err := codec.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer dmx.Close()
	store := hlsmux.NewMemoryStore()
	var mu sync.Mutex
	var durations []time.Duration
	g, err := New(Config{SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second, LagBudget: budget},
		Input{Video: *dmx.Video, Audio: dmx.Audio},
		Output{Store: store, Type: hlsmux.Live, FirstSeq: 1, Logger: testenv.Logger(t),
			OnSegment: func(_ string, s hlsmux.SegmentInfo) {
				mu.Lock()
				durations = append(durations, s.Duration)
				mu.Unlock()
			}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := make(chan *media.Packet, 64)
	go feedRealTime(ctx, t, dmx, in)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, in) }()

	// Measure the lag every 100 ms: while starved (from 2 s to 10 s), and
	// after, until the stream ends.
	start := time.Now()
	stop := func() {}
	var worst, afterFree time.Duration
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			break loop
		case <-tick.C:
		}
		el := time.Since(start)
		if el > 2*time.Second && el < 3*time.Second {
			stop()
			stop = burnCPU(t, 6*runtime.NumCPU())
		}
		if el > 10*time.Second {
			stop()
		}
		lag, _ := g.EncodeLag()
		worst = max(worst, lag)
		if el > 15*time.Second {
			afterFree = max(afterFree, lag)
		}
	}
	st := g.Stats()
	t.Logf("worst lag %v, after the machine was free %v; %d pictures skipped in %d episodes, %d decoded",
		worst, afterFree, st.DroppedLag, st.LagEpisodes, st.Decoded)
	if st.LagEpisodes == 0 || st.DroppedLag == 0 {
		t.Fatalf("the ladder never went over its %v budget (worst lag %v): the machine was not starved enough to test it", budget, worst)
	}
	// Decoding alone must keep up while starved; the budget is crossed by
	// what the renditions had queued and by x264's lookahead.
	if worst > budget+2*time.Second {
		t.Errorf("worst lag %v, budget %v", worst, budget)
	}
	if afterFree > time.Second {
		t.Errorf("lag %v five seconds after the machine was free, want under 1 s", afterFree)
	}
	if g.Behind() {
		t.Error("still behind at the end")
	}
	mu.Lock()
	defer mu.Unlock()
	frame := media.Duration(3000)
	for i, d := range durations {
		if d > 2*time.Second+frame {
			t.Errorf("segment %d lasts %v, over the 2 s target", i, d)
		}
	}
	// 3 renditions × 18 s / 2 s.
	if n := len(durations); n < 3*8 || n > 3*10 {
		t.Errorf("%d segments, want 27±3", n)
	}
}
