package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// machineSample is the CPU time of the whole machine so far (/proc/stat),
// every process included: other work on the machine shows as the busy
// time that neither side nor nginx accounts for.
type machineSample struct {
	busy, total uint64 // clock ticks, summed over the CPUs
	cpus        int
	at          time.Time
}

// sampleMachine reads /proc/stat; on a system without it, the zero sample.
func sampleMachine() machineSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineSample{}
	}
	s, err := parseProcStat(b)
	if err != nil {
		return machineSample{}
	}
	s.at = time.Now()
	return s
}

// busyCores is how many CPUs were busy, on average, from s to later.
func (s machineSample) busyCores(later machineSample) float64 {
	if later.total <= s.total || s.cpus == 0 || later.busy < s.busy {
		return 0
	}
	return float64(later.busy-s.busy) / float64(later.total-s.total) * float64(s.cpus)
}

// maxProcStatCPUs bounds the per-CPU lines counted: more than any machine.
const maxProcStatCPUs = 1 << 16

// parseProcStat reads the aggregate "cpu" line of /proc/stat (user nice
// system idle iowait irq softirq steal, in clock ticks; the guest times
// after them are already in user and nice) and counts the "cpuN" lines.
// Busy is everything but idle and iowait.
func parseProcStat(b []byte) (machineSample, error) {
	var s machineSample
	found := false
	for line := range bytes.Lines(b) {
		fields := bytes.Fields(line)
		if len(fields) == 0 || !bytes.HasPrefix(fields[0], []byte("cpu")) {
			continue
		}
		if len(fields[0]) > 3 { // cpuN
			if s.cpus < maxProcStatCPUs {
				s.cpus++
			}
			continue
		}
		if found {
			return machineSample{}, errors.New("/proc/stat: two cpu lines")
		}
		found = true
		if len(fields) < 5 {
			return machineSample{}, fmt.Errorf("/proc/stat: cpu line of %d fields", len(fields))
		}
		for i, f := range fields[1:min(len(fields), 9)] {
			v, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return machineSample{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
			}
			if s.total+v < s.total {
				return machineSample{}, errors.New("/proc/stat: cpu times overflow")
			}
			s.total += v
			if i != 3 && i != 4 { // idle, iowait
				s.busy += v
			}
		}
	}
	if !found || s.cpus == 0 {
		return machineSample{}, errors.New("/proc/stat: no cpu lines")
	}
	return s, nil
}
