package pipeline

import "golang.org/x/sys/unix"

// yieldThread lowers the calling OS thread's scheduling priority to nice
// 10 (CFS gives it a ninth of a nice-0 thread's share when they contend).
// Linux sets nice per thread, and threads x264 starts from it inherit it.
// An unprivileged process cannot raise it back, so the caller's goroutine
// must stay locked to the thread until it exits, which ends the thread.
func yieldThread() error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), yieldNice)
}
