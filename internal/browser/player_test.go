package browser

import (
	"errors"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	samples := []PlayerSample{
		{AtMillis: 1000, State: "playing", CurrentTime: 10, Height: 180, LL: true, BufferAhead: 1.2,
			PDTLatency: f(1.9), Latency: f(1.8), Stalls: 2, EmptyStalls: 1, StalledSeconds: 0.5, Switches: 1},
		{AtMillis: 1500, State: "playing", CurrentTime: 10.5, Height: 90, LL: true, BufferAhead: 0.9,
			PDTLatency: f(1.5), Latency: f(1.4), Stalls: 3, EmptyStalls: 1, StalledSeconds: 0.7, Switches: 2},
		{AtMillis: 1800, State: "loading"}, // not playing: counts only
		{AtMillis: 2000, State: "playing", CurrentTime: 11, Height: 180, LL: true, BufferAhead: 1.0,
			PDTLatency: f(1.7), Stalls: 3, EmptyStalls: 1, StalledSeconds: 0.75, Switches: 3},
	}
	sum, err := Summarize(samples)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != 4 || sum.Span.Milliseconds() != 1000 || sum.Played != 1 {
		t.Errorf("samples %d, span %v, played %g", sum.Samples, sum.Span, sum.Played)
	}
	if sum.Stalls != 1 || sum.EmptyStalls != 0 || sum.Stalled != 0.25 || sum.Switches != 2 {
		t.Errorf("stalls %d, empty %d, stalled %g, switches %d", sum.Stalls, sum.EmptyStalls, sum.Stalled, sum.Switches)
	}
	if !sum.LL || !slices.Equal(sum.Heights, []int{180, 90}) || sum.MinBufferAhead != 0.9 {
		t.Errorf("LL %v, heights %v, min buffer %g", sum.LL, sum.Heights, sum.MinBufferAhead)
	}
	if sum.PDTSamples != 3 || sum.PDTLatencyMedian != 1.7 || sum.PDTLatencyMax != 1.9 ||
		sum.LatencySamples != 2 || sum.LatencyMedian != 1.8 || sum.LatencyMax != 1.8 {
		t.Errorf("latencies: %+v", sum)
	}
	samples[1].LL = false
	if sum, _ := Summarize(samples); sum.LL {
		t.Error("LL with a sample that played without it")
	}
	if sum, _ := Summarize(samples[2:3]); sum.LL {
		t.Error("LL without a sample that played")
	}
	if _, err := Summarize(nil); !errors.Is(err, ErrNoSamples) {
		t.Errorf("no samples: %v", err)
	}
}
