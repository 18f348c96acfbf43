package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server that a test can kill and start again on the
// same port, as a Redis outage looks to its clients. It keeps its data in
// an append-only file, written at every command, so that a restart finds
// what was there before the kill, as a production Redis with persistence
// does.
type Redis struct {
	// Addr is its "127.0.0.1:PORT", the same across restarts.
	Addr string

	t      testing.TB
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartRedisProcess starts a Redis that Kill and Start stop and start
// again, with extra arguments args; the test's cleanup kills it.
func StartRedisProcess(t testing.TB, args ...string) *Redis {
	t.Helper()
	port := FreePort(t)
	r := &Redis{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		t:    t,
		args: append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "",
			"--appendonly", "yes", "--appendfsync", "always", "--dir", t.TempDir(), "--daemonize", "no"}, args...),
	}
	t.Cleanup(r.Kill)
	r.Start()
	return r
}

// Start runs redis-server again, if it is not running, and waits until it
// is ready.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(NeedTool(r.t, "redis-server"), r.args...)
	out := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.cmd, r.exited = cmd, exited
	WaitFor(r.t, 10*time.Second, func() bool {
		select {
		case <-exited:
			r.t.Fatalf("redis-server exited:\n%s", out.String())
		default:
		}
		return strings.Contains(out.String(), "Ready to accept connections")
	}, "redis-server to accept connections")
}

// Kill stops redis-server with SIGKILL, as a crash does, and waits for it
// to exit. Its clients' connections are reset.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.cmd = nil
}
