package media

import (
	"math"
	"slices"
)

// Frame rates outside [MinFrameRate, MaxFrameRate] are not taken from a
// publisher's metadata or SPS: encoders write 0, 1000 or a time base
// (90000) there when they do not know.
const (
	MinFrameRate = 1
	MaxFrameRate = 240
)

// PlausibleFrameRate reports whether r can be a video's frame rate.
func PlausibleFrameRate(r Rational) bool {
	return r.Valid() && r.Float() >= MinFrameRate && r.Float() <= MaxFrameRate
}

// standardRates are the rates cameras and encoders use; a measured rate
// within standardTolerance of one is that one. On a tie (a second of
// millisecond timestamps cannot tell 30 from 29.97) the integer rate,
// listed last, wins.
var standardRates = []Rational{
	{10, 1}, {12, 1}, {15, 1}, {20, 1}, {24000, 1001}, {24, 1}, {25, 1},
	{30000, 1001}, {30, 1}, {48, 1}, {50, 1}, {60000, 1001}, {60, 1}, {72, 1},
	{90, 1}, {100, 1}, {120, 1}, {144, 1}, {240, 1},
}

// standardTolerance: RTMP's millisecond timestamps make a 30 fps stream's
// frames 33 or 34 ms apart (1.5 % either way of 33.3); averaged over a
// second that is well under 1 %, and a rate read as 1000/33 is 1 % off.
const standardTolerance = 0.015

// StandardFrameRate returns the standard rate nearest r when one is within
// 1.5 % of it, else r.
func StandardFrameRate(r Rational) Rational {
	f := r.Float()
	if f <= 0 {
		return r
	}
	best, bestErr := r, standardTolerance
	for _, s := range standardRates {
		if e := math.Abs(f-s.Float()) / s.Float(); e <= bestErr {
			best, bestErr = s, e
		}
	}
	return best
}

// EstimateFrameRate measures the frame rate of a video track from the DTS
// of its first packets (ClockRate ticks, in decode order), for a publisher
// that declares none. Repeated timestamps and dropped frames are set aside
// by taking the steps near their median, so that 1 ms jitter does not turn
// 30 fps into 1000/33, nor a repeat into 60. It returns the zero Rational
// when the steps say nothing (fewer than minEstimateSteps usable ones).
func EstimateFrameRate(dts []int64) Rational {
	var steps []int64
	for i := 1; i < len(dts); i++ {
		if d := dts[i] - dts[i-1]; d > 0 && d <= ClockRate {
			steps = append(steps, d)
		}
	}
	if len(steps) < minEstimateSteps {
		return Rational{}
	}
	sorted := slices.Clone(steps)
	slices.Sort(sorted)
	median := sorted[len(sorted)/2]
	var sum, n int64
	for _, d := range steps {
		// Within a third of the median: not a repeat's half step, not a
		// dropped frame's double one.
		if 3*d >= 2*median && 3*d <= 4*median {
			sum += d
			n++
		}
	}
	if n < minEstimateSteps {
		return Rational{}
	}
	r := StandardFrameRate(Rational{Num: int(math.Round(float64(n) * ClockRate * 1000 / float64(sum))), Den: 1000})
	if !PlausibleFrameRate(r) {
		return Rational{}
	}
	return r
}

// minEstimateSteps is the fewest frame steps a rate is measured from.
const minEstimateSteps = 4
