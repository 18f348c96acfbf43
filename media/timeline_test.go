package media

import (
	"encoding/binary"
	"testing"
)

// ms is a timestamp in milliseconds, as RTMP carries them.
func ms(n int64) int64 { return n * ClockRate / 1000 }

type tsCase struct {
	name string
	// in: kind, DTS, PTS in ms; want: DTS, PTS in ms after Fix.
	in, want [][3]int64
	fixes    int64
	jumps    int64
}

var timelineCases = []tsCase{
	{
		name: "clean interleaved stream is untouched",
		in:   [][3]int64{{1, 0, 67}, {2, 0, 0}, {1, 33, 33}, {2, 21, 21}, {1, 67, 133}, {2, 43, 43}},
		want: [][3]int64{{1, 0, 67}, {2, 0, 0}, {1, 33, 33}, {2, 21, 21}, {1, 67, 133}, {2, 43, 43}},
	},
	{
		name:  "first DTS clamped to 0 by the muxer (GStreamer's flvmux)",
		in:    [][3]int64{{1, 0, 0}, {1, 0, 100}, {1, 0, 33}, {1, 33, 67}},
		want:  [][3]int64{{1, 0, 0}, {1, 0, 100}, {1, 0, 33}, {1, 33, 67}},
		fixes: 2, // in ticks: 0, +1, +2 (checked below), then 33 ms
	},
	{
		name:  "repeated and stepped-back DTS, PTS below DTS",
		in:    [][3]int64{{1, 100, 100}, {1, 100, 100}, {1, 99, 99}, {1, 166, 150}},
		want:  [][3]int64{{1, 100, 100}, {1, 100, 100}, {1, 100, 100}, {1, 166, 166}},
		fixes: 3,
	},
	{
		name: "publisher restarts its clock: both tracks continue",
		in: [][3]int64{{1, 5000, 5000}, {2, 5010, 5010}, {1, 5033, 5033}, {2, 5031, 5031},
			{1, 0, 0}, {2, 0, 0}, {1, 33, 33}, {2, 21, 21}},
		want: [][3]int64{{1, 5000, 5000}, {2, 5010, 5010}, {1, 5033, 5033}, {2, 5031, 5031},
			{1, 5066, 5066}, {2, 5052, 5052}, {1, 5099, 5099}, {2, 5073, 5073}},
		jumps: 2,
	},
	{
		name:  "a stall the clock ran through is closed up",
		in:    [][3]int64{{1, 0, 0}, {1, 40, 40}, {1, 10040, 10040}, {1, 10080, 10080}},
		want:  [][3]int64{{1, 0, 0}, {1, 40, 40}, {1, 80, 80}, {1, 120, 120}},
		jumps: 1,
	},
	{
		name: "video pausing while audio goes on keeps its time",
		in: [][3]int64{{1, 0, 0}, {2, 0, 0}, {2, 2000, 2000}, {2, 4000, 4000}, {2, 6000, 6000},
			{1, 6000, 6000}},
		want: [][3]int64{{1, 0, 0}, {2, 0, 0}, {2, 2000, 2000}, {2, 4000, 4000}, {2, 6000, 6000},
			{1, 6000, 6000}},
	},
}

func TestTimeline(t *testing.T) {
	for _, c := range timelineCases {
		t.Run(c.name, func(t *testing.T) {
			var tl Timeline
			var lastDTS [3]int64
			for i, in := range c.in {
				p := &Packet{Kind: Kind(in[0]), DTS: ms(in[1]), PTS: ms(in[2])}
				orig := *p
				q := tl.Fix(p)
				if p.DTS != orig.DTS || p.PTS != orig.PTS {
					t.Fatalf("packet %d: Fix modified its argument", i)
				}
				// Repairs are ticks apart: compare in whole milliseconds.
				if got := [3]int64{in[0], q.DTS * 1000 / ClockRate, q.PTS * 1000 / ClockRate}; got != c.want[i] {
					t.Errorf("packet %d %v: got %v, want %v", i, in, got, c.want[i])
				}
				if i > 0 && q.DTS <= lastDTS[q.Kind] && lastDTS[q.Kind] != 0 {
					t.Errorf("packet %d: DTS %d not above the track's last %d", i, q.DTS, lastDTS[q.Kind])
				}
				lastDTS[q.Kind] = q.DTS
			}
			if tl.Fixes() != c.fixes || tl.Jumps() != c.jumps {
				t.Errorf("fixes %d jumps %d, want %d and %d", tl.Fixes(), tl.Jumps(), c.fixes, c.jumps)
			}
		})
	}
}

// FuzzTimeline: whatever the publisher sends, each track's DTS strictly
// increase, PTS is never below DTS, no track strays past MaxInterleave
// from the stream's position, and a packet is only copied when changed.
func FuzzTimeline(f *testing.F) {
	for _, c := range timelineCases {
		var b []byte
		for _, in := range c.in {
			b = append(b, byte(in[0]))
			b = binary.BigEndian.AppendUint32(b, uint32(in[1]))
			b = binary.BigEndian.AppendUint16(b, uint16(in[2]-in[1]))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tl Timeline
		var last [3]int64
		var seen [3]bool
		pos := int64(0)
		for i := 0; len(b) >= 7; i, b = i+1, b[7:] {
			kind := Kind(b[0]%2 + 1)
			dts := ms(int64(int32(binary.BigEndian.Uint32(b[1:]))))
			pts := dts + ms(int64(int16(binary.BigEndian.Uint16(b[5:]))))
			p := &Packet{Kind: kind, DTS: dts, PTS: pts}
			q := tl.Fix(p)
			if (q == p) != (q.DTS == dts && q.PTS == pts) {
				t.Fatalf("packet %d: copied %v but timestamps changed %v", i, q != p, q.DTS != dts || q.PTS != pts)
			}
			if seen[kind] && q.DTS <= last[kind] {
				t.Fatalf("packet %d: %s DTS %d after %d", i, kind, q.DTS, last[kind])
			}
			if q.PTS < q.DTS {
				t.Fatalf("packet %d: PTS %d below DTS %d", i, q.PTS, q.DTS)
			}
			if i > 0 && (q.DTS > pos+MaxInterleave+1 || q.DTS < pos-MaxInterleave-1) {
				t.Fatalf("packet %d: DTS %d strays from the position %d", i, q.DTS, pos)
			}
			last[kind], seen[kind] = q.DTS, true
			pos = max(pos, q.DTS)
		}
	})
}
