package live

import (
	"testing"
	"time"
)

// TestArrivalsLastBefore: a part is complete when the last of its frames
// arrived, which behind B-frames is a B-frame that came after the P-frame
// shown after it.
func TestArrivalsLastBefore(t *testing.T) {
	var a arrivals
	base := time.Unix(1_800_000_000, 0)
	const frame = 3000
	// Decode order I0 P3 B1 B2 P6 B4 B5, one every 33 ms.
	for i, f := range []int64{0, 3, 1, 2, 6, 4, 5} {
		a.add(f*frame, base.Add(time.Duration(i)*33*time.Millisecond))
	}
	for _, c := range []struct {
		end  int64 // in frames
		want int   // the arrival, in frame intervals
	}{
		{1, 0},  // I0 alone
		{3, 3},  // frames 0-2: B2 came last
		{4, 3},  // frames 0-3: P3 came before B1 and B2
		{5, 5},  // frames 0-4: B4, after P6
		{7, 6},  // every frame: B5
		{99, 6}, // the same
	} {
		got, ok := a.lastBefore(c.end * frame)
		if want := base.Add(time.Duration(c.want) * 33 * time.Millisecond); !ok || !got.Equal(want) {
			t.Errorf("lastBefore(frame %d) = %v %v, want the arrival %d", c.end, got.Sub(base), ok, c.want)
		}
	}
	if _, ok := a.lastBefore(0); ok {
		t.Error("lastBefore(0): found a frame before the first")
	}
}
