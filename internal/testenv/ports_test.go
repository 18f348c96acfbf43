package testenv

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	l.Close()

	a := FreeAddr(t)
	if !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q, want 127.0.0.1:PORT", a)
	}
	l, err = net.Listen("tcp", a)
	if err != nil {
		t.Fatalf("address %s is not free: %v", a, err)
	}
	l.Close()
}
