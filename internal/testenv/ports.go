package testenv

import (
	"net"
	"sync"
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

// FreeUDPAddr is FreeAddr for UDP (an SRT listener), with the same caveat.
func FreeUDPAddr(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free UDP port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().String()
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

// SilentListener accepts TCP connections on 127.0.0.1 and never answers,
// like a server that hangs; it returns its address. The test's cleanup
// closes the listener and every connection.
func SilentListener(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
