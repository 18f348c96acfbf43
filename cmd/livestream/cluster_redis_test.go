package main

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// startRedis starts a redis-server on 127.0.0.1 that keeps nothing on
// disk and asks for password, and returns its address; the test's cleanup
// kills it. A missing redis-server fails the test (skips it with
// LIVESTREAM_ALLOW_SKIP=1).
func startRedis(t *testing.T, password string) string {
	t.Helper()
	bin := testenv.NeedTool(t, "redis-server")
	port := testenv.FreePort(t)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no", "--requirepass", password)
	out := &testenv.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Its log is the only event there is to wait for.
	testenv.WaitFor(t, 10*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("redis-server exited:\n%s", out.String())
		default:
		}
		return strings.Contains(out.String(), "Ready to accept connections")
	}, "redis-server to accept connections")
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
