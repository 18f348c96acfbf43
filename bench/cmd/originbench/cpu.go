package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// selfCPU is this process's user and system CPU time so far: ours, its
// upstream and this program's own few goroutines, idle while wrk runs.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read this process's CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU is process pid's user and system CPU time so far, from
// /proc/PID/stat (utime and stime, its 14th and 15th fields).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("read the CPU time of process %d: no ')' in its stat", pid)
	}
	f := bytes.Fields(b[i+1:]) // from field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("read the CPU time of process %d: %d fields in its stat", pid, len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the CPU time of process %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

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
