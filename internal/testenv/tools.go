package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of a command the test needs.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
			t.Skipf("%s not installed (LIVESTREAM_ALLOW_SKIP=1)", name)
		}
		t.Fatalf("%s not installed: run `make deps` (or make test, which does)", name)
	}
	return p
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort returns a port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	n := 0
	for _, c := range port {
		n = n*10 + int(c-'0')
	}
	return n
}
