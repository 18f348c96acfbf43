package pipeline

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// yieldThread lowers the calling OS thread's scheduling priority to nice
// yieldNice (CFS gives it a ninth of a nice-0 thread's share when they
// contend). Linux sets nice per thread, and threads x264 starts from it
// inherit it. An unprivileged process cannot raise it back, so the caller's
// goroutine must stay locked to the thread until it exits, which ends the
// thread.
func yieldThread() error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), yieldNice)
}

// nameThread names the calling OS thread (15 bytes at most), as top -H,
// perf and /proc show it; threads it starts (x264's, FFmpeg's) inherit the
// name. The caller's goroutine stays locked to the thread until it exits,
// so that the name never outlives its stage on a thread Go reuses.
func nameThread(name string) error {
	if len(name) > 15 {
		name = name[:15]
	}
	b := append([]byte(name), 0)
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0); e != 0 {
		return e
	}
	return nil
}
