package testenv

import (
	"os"
	"strconv"
	"strings"
)

// RSS is this process's resident set size in bytes (/proc/self/statm), or 0
// where /proc is missing.
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	return parseStatmRSS(string(b), int64(os.Getpagesize()))
}

// PeakRSS is this process's peak resident set size in bytes (VmHWM of
// /proc/self/status), or 0 where /proc is missing.
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseStatusKB(string(b), "VmHWM")
}

// parseStatmRSS reads statm's second field, resident pages.
func parseStatmRSS(statm string, pageSize int64) int64 {
	f := strings.Fields(statm)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * pageSize
}

// parseStatusKB reads a "Key:   1234 kB" line of /proc/PID/status, in bytes.
func parseStatusKB(status, key string) int64 {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
