package main

import (
	"fmt"
	"testing"
)

// procStatCases drive TestParseProcStat and FuzzParseProcStat's seeds.
var procStatCases = []struct {
	in          string
	busy, total uint64
	cpus        int
	wantErr     bool
}{
	{"cpu  10 1 5 100 4 2 3 1 7 0\ncpu0 5 0 2 50 2 1 1 0 3 0\ncpu1 5 1 3 50 2 1 2 1 4 0\nintr 1 2\n", 22, 126, 2, false},
	{"cpu 1 2 3 4 5\ncpu0 1 2 3 4 5\n", 6, 15, 1, false},
	{"cpu 1 2 3\ncpu0 1 2 3 4\n", 0, 0, 0, true},
	{"cpu 1 2 x 4 5\ncpu0 1\n", 0, 0, 0, true},
	{"cpu 1 2 3 4 5\n", 0, 0, 0, true}, // no cpuN
	{"cpu 1 2 3 4 5\ncpu 1 2 3 4 5\ncpu0\n", 0, 0, 0, true},
	{"cpu 18446744073709551615 1 0 0 0\ncpu0\n", 0, 0, 0, true},
	{"", 0, 0, 0, true},
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range procStatCases {
		s, err := parseProcStat([]byte(tc.in))
		if (err != nil) != tc.wantErr || s.busy != tc.busy || s.total != tc.total || s.cpus != tc.cpus {
			t.Errorf("parseProcStat(%q) = %+v, %v; want busy %d, total %d, %d CPUs, error %v",
				tc.in, s, err, tc.busy, tc.total, tc.cpus, tc.wantErr)
		}
	}
	later := machineSample{busy: 22 + 150, total: 126 + 200, cpus: 2}
	if got := (machineSample{busy: 22, total: 126, cpus: 2}).busyCores(later); got != 1.5 {
		t.Errorf("busyCores = %g, want 1.5", got)
	}
	if s := sampleMachine(); s.cpus < 1 || s.total == 0 {
		t.Errorf("sampleMachine() = %+v: no CPUs", s)
	}
}

func FuzzParseProcStat(f *testing.F) {
	for _, tc := range procStatCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := parseProcStat([]byte(in))
		if err != nil {
			return
		}
		if s.busy > s.total || s.cpus < 1 {
			t.Fatalf("parseProcStat(%q) = %+v", in, s)
		}
		// The aggregate alone, written again, reads the same.
		again, err := parseProcStat([]byte(fmt.Sprintf("cpu %d 0 0 %d 0\ncpu0\n", s.busy, s.total-s.busy)))
		if err != nil || again.busy != s.busy || again.total != s.total {
			t.Fatalf("round trip of %+v: %+v, %v", s, again, err)
		}
	})
}
