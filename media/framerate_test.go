package media

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// rtmpDTS is n frames at rate, as RTMP's millisecond timestamps carry
// them (rounded to the millisecond), with jitter ms of noise each.
func rtmpDTS(n int, rate float64, jitter int, seed uint64) []int64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	var d []int64
	for i := 0; i < n; i++ {
		t := int64(float64(i)*1000/rate + 0.5)
		if jitter > 0 {
			t += int64(rng.IntN(2*jitter+1) - jitter)
		}
		d = append(d, ms(t))
	}
	return d
}

func TestEstimateFrameRate(t *testing.T) {
	repeat := rtmpDTS(30, 30, 0, 0)
	repeat[10], repeat[20] = repeat[9], repeat[19] // two frames sent at one time
	dropped := append(rtmpDTS(10, 30, 0, 0)[:10:10], rtmpDTS(30, 30, 0, 0)[12:]...)
	for _, c := range []struct {
		name string
		dts  []int64
		want Rational
	}{
		{"30 fps", rtmpDTS(30, 30, 0, 0), Rational{30, 1}},
		{"30 fps ±1 ms", rtmpDTS(30, 30, 1, 1), Rational{30, 1}},
		{"25 fps ±1 ms", rtmpDTS(25, 25, 1, 2), Rational{25, 1}},
		{"50 fps ±1 ms", rtmpDTS(50, 50, 1, 3), Rational{50, 1}},
		{"60 fps ±1 ms", rtmpDTS(60, 60, 1, 4), Rational{60, 1}},
		{"24 fps", rtmpDTS(24, 24, 0, 0), Rational{24, 1}},
		{"30 fps with repeated timestamps", repeat, Rational{30, 1}},
		{"30 fps with two frames dropped", dropped, Rational{30, 1}},
		{"15 fps", rtmpDTS(15, 15, 0, 0), Rational{15, 1}},
		{"too few frames", rtmpDTS(3, 30, 0, 0), Rational{}},
		{"one timestamp", []int64{0, 0, 0, 0, 0, 0}, Rational{}},
	} {
		if got := EstimateFrameRate(c.dts); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStandardFrameRate(t *testing.T) {
	for _, c := range []struct{ in, want Rational }{
		{Rational{30303, 1000}, Rational{30, 1}}, // 1000/33
		{Rational{29970, 1000}, Rational{30000, 1001}},
		{Rational{30000, 1001}, Rational{30000, 1001}},
		{Rational{30, 1}, Rational{30, 1}},
		{Rational{17, 1}, Rational{17, 1}},
		{Rational{0, 1}, Rational{0, 1}},
	} {
		if got := StandardFrameRate(c.in); got != c.want {
			t.Errorf("StandardFrameRate(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzEstimateFrameRate: any DTS sequence gives zero or a plausible rate.
func FuzzEstimateFrameRate(f *testing.F) {
	f.Add([]byte{0, 0, 0, 33, 0, 0, 0, 67, 0, 0, 0, 100, 0, 0, 0, 133, 0, 0, 0, 167})
	f.Fuzz(func(t *testing.T, b []byte) {
		var dts []int64
		for ; len(b) >= 4; b = b[4:] {
			dts = append(dts, ms(int64(int32(binary.BigEndian.Uint32(b)))))
		}
		if r := EstimateFrameRate(dts); r != (Rational{}) && !PlausibleFrameRate(r) {
			t.Fatalf("EstimateFrameRate gave %v", r)
		}
	})
}
