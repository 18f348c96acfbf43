package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// machineCPU is the CPU-seconds all cores spent busy since boot (user,
// nice, system, irq, softirq and steal of /proc/stat), so that a run can
// tell how much of the machine other processes took.
func machineCPU() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("/proc/stat: %w", err)
	}
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system _idle _iowait irq softirq steal
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: field %d of %q", i, line)
		}
		busy += v
	}
	return busy / 100, nil // USER_HZ
}

// peakRSS is a running process's peak resident set size in bytes: VmHWM
// in /proc/PID/status.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if !ok || err != nil {
			return 0, fmt.Errorf("/proc/%d/status: VmHWM %q", pid, strings.TrimSpace(rest))
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}
