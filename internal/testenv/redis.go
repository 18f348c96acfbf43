package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedis starts Debian's redis-server on 127.0.0.1 with a free port,
// keeping nothing on disk, with extra arguments args ("--requirepass", PW),
// and returns its address; the test's cleanup kills it. A missing
// redis-server fails the test as NeedTool does.
func StartRedis(t testing.TB, args ...string) string {
	t.Helper()
	port := FreePort(t)
	return RunRedis(t, port, append([]string{"--port", strconv.Itoa(port)}, args...)...)
}

// RunRedis runs redis-server with args, whose address is 127.0.0.1:port
// (a TLS set-up passes its own "--port 0 --tls-port N"), and waits until it
// says it is ready: its log is the only event there is to wait for.
func RunRedis(t testing.TB, port int, args ...string) string {
	t.Helper()
	bin := NeedTool(t, "redis-server")
	args = append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--daemonize", "no"}, args...)
	cmd := exec.Command(bin, args...)
	out := &LogBuffer{}
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
	WaitFor(t, 10*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("redis-server exited:\n%s", out.String())
		default:
		}
		return strings.Contains(out.String(), "Ready to accept connections")
	}, "redis-server to accept connections")
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
