package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns "127.0.0.1:PORT" with a port that was free a moment ago.
// Prefer listening on 127.0.0.1:0 and passing the listener on; use this only
// for a server that must be given an address (another process, say), since
// another program may take the port in between.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return freeTCPAddr(t).String()
}

// FreePort is FreeAddr's port.
func FreePort(t testing.TB) int {
	t.Helper()
	return freeTCPAddr(t).Port
}

func freeTCPAddr(t testing.TB) *net.TCPAddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr)
}
