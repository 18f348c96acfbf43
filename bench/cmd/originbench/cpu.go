package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// coreTimes are the busy and total jiffies of each CPU so far, from
// /proc/stat: what shows which core a run saturated, softirq time (the
// loopback's TCP receive work, charged to no process) included.
type coreTimes struct{ busy, total []int64 }

func readCoreTimes() (coreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return coreTimes{}, fmt.Errorf("read the CPUs' times: %w", err)
	}
	var ct coreTimes
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		// cpuN user nice system idle iowait irq softirq steal …
		if len(f) < 9 || !bytes.HasPrefix(f[0], []byte("cpu")) || len(f[0]) == 3 {
			continue
		}
		var busy, total int64
		for i, s := range f[1:9] {
			n, err := strconv.ParseInt(string(s), 10, 64)
			if err != nil {
				return coreTimes{}, fmt.Errorf("read the CPUs' times: %w", err)
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		ct.busy, ct.total = append(ct.busy, busy), append(ct.total, total)
	}
	return ct, nil
}

// busySince returns each core's busy fraction since c0.
func (c coreTimes) busySince(c0 coreTimes) []float64 {
	out := make([]float64, min(len(c.busy), len(c0.busy)))
	for i := range out {
		if dt := c.total[i] - c0.total[i]; dt > 0 {
			out[i] = float64(c.busy[i]-c0.busy[i]) / float64(dt)
		}
	}
	return out
}
