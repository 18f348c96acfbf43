package bench

import (
	"syscall"
	"time"
)

// CPUTime is the user+system CPU time used so far by this process, all
// threads included (FFmpeg's and x264's own threads too).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
