package pipeline

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/livestream/livestream/media"
)

// msTicks is n milliseconds, truncated as RTMP carries them, in ticks.
func msTicks(n float64) int64 { return int64(n) * media.ClockRate / 1000 }

// run places every pts and returns the slots given, the fills and drops.
func runClock(c *frameClock, pts []int64) (slots []int64, fills, drops int64) {
	for _, p := range pts {
		s, f, ok := c.place(p)
		if !ok {
			drops++
			continue
		}
		fills += f
		slots = append(slots, s)
	}
	return slots, fills, drops
}

func TestFrameClock(t *testing.T) {
	r30 := media.Rational{Num: 30, Den: 1}
	rng := rand.New(rand.NewPCG(1, 2))
	var fps60, jitter30, dup30, hole30, pause30, ntsc, bframes []int64
	for i := range 600 {
		fps60 = append(fps60, msTicks(float64(i)*1000/60))
	}
	for i := range 300 {
		jitter30 = append(jitter30, msTicks(float64(i)*1000/30+float64(rng.IntN(3)-1)))
	}
	for i := range 30 {
		t := msTicks(float64(i) * 1000 / 30)
		if i == 15 { // sent again at the next frame's time
			t = msTicks(16 * 1000 / 30.0)
		}
		dup30 = append(dup30, t)
	}
	for i := range 30 {
		if i < 10 || i > 13 {
			hole30 = append(hole30, msTicks(float64(i)*1000/30))
		}
	}
	pause30 = []int64{0, 3000, 6000, 6000 + 2*media.ClockRate, 9000 + 2*media.ClockRate}
	// A looped file's second lap: ffmpeg -stream_loop added a duration
	// that put the pictures half a frame off the grid, in whole ms.
	var halfPhase30 []int64
	for i := range 300 {
		halfPhase30 = append(halfPhase30, msTicks(float64(i+1)*1000/30+16.5+float64(rng.IntN(3)-1)))
	}
	halfPhase30 = append([]int64{0}, halfPhase30...) // the last picture of the first lap
	var fps40 []int64
	for i := range 400 {
		fps40 = append(fps40, int64(i)*2250)
	}
	for i := range 3000 {
		ntsc = append(ntsc, int64(i)*3003)
	}
	// Decode-order times on presentation-order pictures (I P B B stamped
	// with their DTS): every third picture arrives two frames early.
	for g := range 20 {
		b := int64(g * 3)
		bframes = append(bframes, (b+1)*3000, (b+2)*3000, b*3000)
	}
	for _, c := range []struct {
		name               string
		rate               media.Rational
		pts                []int64
		slots, fills, drop int64 // slots given out (kept pictures)
		last               int64 // the last slot
	}{
		{"60 fps on a 30 fps grid keeps every other picture", r30, fps60, 300, 0, 300, 299},
		{"30 fps with ±1 ms jitter keeps every picture", r30, jitter30, 300, 0, 0, 299},
		{"a repeated timestamp: the hole it leaves is filled, the late frame dropped", r30, dup30, 29, 1, 1, 29},
		{"a hole of four frames is filled", r30, hole30, 26, 4, 0, 29},
		{"a two-second pause stays a hole", r30, pause30, 5, 0, 0, 63},
		{"29.97 fps on a 30 fps grid fills a slot every 1000", r30, ntsc, 3000, 3, 0, 3002},
		{"decode-order stamps: the early pictures are dropped, their slots filled", r30, bframes, 40, 19, 20, 58},
		{"30 fps stepped half a frame off the grid, ±1 ms jitter: every picture kept, one repeat at the step", r30, halfPhase30, 301, 1, 0, 301},
		{"40 fps on a 30 fps grid keeps three in four, never drifting late", r30, fps40, 301, 0, 99, 300},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := newFrameClock(c.rate, 15)
			slots, fills, drops := runClock(&clock, c.pts)
			if int64(len(slots)) != c.slots || fills != c.fills || drops != c.drop {
				t.Errorf("%d slots, %d filled, %d dropped; want %d, %d, %d", len(slots), fills, drops, c.slots, c.fills, c.drop)
			}
			if len(slots) > 0 && slots[len(slots)-1] != c.last {
				t.Errorf("last slot %d, want %d", slots[len(slots)-1], c.last)
			}
			for i := 1; i < len(slots); i++ {
				if slots[i] <= slots[i-1] {
					t.Fatalf("slot %d after %d", slots[i], slots[i-1])
				}
			}
		})
	}
}

func TestFrameClockPTS(t *testing.T) {
	// 29.97 fps: 3003 ticks a frame, exactly, however far from the origin.
	c := newFrameClock(media.Rational{Num: 30000, Den: 1001}, 0)
	c.place(7)
	for _, s := range []int64{0, 1, 1000, 108_000_000} {
		if got, want := c.pts(s), 7+s*3003; got != want {
			t.Errorf("pts(%d) = %d, want %d", s, got, want)
		}
	}
	// 23.976 fps: 3753.75 ticks; slots are floored, never drift.
	c = newFrameClock(media.Rational{Num: 24000, Den: 1001}, 0)
	c.place(0)
	if got := c.pts(4); got != 15015 {
		t.Errorf("pts(4) at 23.976 fps = %d, want 15015", got)
	}
}

// FuzzFrameClock: whatever the timestamps, the slots given out strictly
// increase, and a kept picture is shown at most half a frame early and ¾
// of a frame late.
func FuzzFrameClock(f *testing.F) {
	f.Add(uint8(30), uint8(1), []byte{0, 0, 0, 0, 0, 0, 11, 184, 0, 0, 11, 184, 0, 0, 23, 112})
	f.Add(uint8(60), uint8(0), []byte{0, 0, 5, 220, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, rate, ntsc uint8, b []byte) {
		if rate == 0 || rate > media.MaxFrameRate {
			return
		}
		r := media.Rational{Num: int(rate), Den: 1}
		if ntsc%2 == 1 {
			r = media.Rational{Num: int(rate) * 1000, Den: 1001}
		}
		c := newFrameClock(r, 15)
		frame := float64(media.ClockRate) * float64(r.Den) / float64(r.Num)
		last := int64(-1)
		for ; len(b) >= 4; b = b[4:] {
			pts := int64(int32(binary.BigEndian.Uint32(b)))
			s, fill, ok := c.place(pts)
			if !ok {
				continue
			}
			if s <= last || fill < 0 || s-fill <= last && last >= 0 {
				t.Fatalf("pts %d: slot %d (fill %d) after slot %d", pts, s, fill, last)
			}
			if d := float64(c.pts(s) - pts); d > frame*3/4+1 || d < -frame/2-1 {
				t.Fatalf("pts %d shown at %d: %.0f ticks off, a frame is %.0f", pts, c.pts(s), d, frame)
			}
			last = s
		}
	})
}
