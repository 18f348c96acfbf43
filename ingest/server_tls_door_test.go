package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/tlsfile"
)

// TestRTMPSHostileBytes sends an RTMPS listener what a peer may send
// before or instead of a TLS handshake (a ClientHello cut anywhere, plain
// RTMP, HTTP, a PROXY header, TLS record headers with any length, and
// random bytes with and without a TLS record's first bytes), then closes
// its side: each connection is closed by the server, its slot given
// back, and the server goes on.
//
// This is a test, not a fuzz target: our code parses none of it (crypto/tls
// does), and coverage-guided fuzzing of a server in the same process sees
// the scheduler's nondeterminism as new coverage and spends its time
// minimizing.
func TestRTMPSHostileBytes(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	srv, addr := startTLSOnly(t)
	hello := testenv.ClientHello(t)
	inputs := [][]byte{
		{}, {0x03}, hello,
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 1936\r\n"),
		{0x16, 0x03, 0x01, 0xff, 0xff}, {0x16, 0x03, 0x01, 0x00, 0x00}, {0x17, 0x03, 0x03, 0x40, 0x01},
	}
	for i := 1; i < len(hello); i += 7 {
		inputs = append(inputs, hello[:i])
	}
	r := rand.New(rand.NewPCG(14, 1936))
	for i := range 200 {
		b := make([]byte, r.IntN(1<<uint(1+i%16)))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%2 == 0 && len(b) >= 5 {
			copy(b, []byte{0x16, 0x03, byte(r.IntN(5)), byte(r.Uint32()), byte(r.Uint32())})
		}
		inputs = append(inputs, b)
	}
	for i, data := range inputs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(data) // the server may have closed already
		c.(*net.TCPConn).CloseWrite()
		closedWithin(t, c, 5*time.Second)
		c.Close()
		if t.Failed() {
			t.Fatalf("input %d, %d bytes: % x…", i, len(data), data[:min(len(data), 16)])
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.open == 0
	}, fmt.Sprintf("every slot given back after %d hostile connections", len(inputs)))
}

// startTLSOnly starts a Server serving RTMPS only, with a short
// handshake timeout.
func startTLSOnly(t *testing.T) (*Server, string) {
	t.Helper()
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "hostile", certFile, keyFile)
	cert, err := tlsfile.Load(certFile, keyFile, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{
		Auth: &testAuth{keys: map[string]registry.Channel{}}, Handler: &testHandler{sinks: make(chan *testSink, 1)},
		Logger: slog.New(slog.DiscardHandler), HandshakeTimeout: 500 * time.Millisecond, MaxConnsPerAddr: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	l := mustListen(t)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(l, tlsfile.ServerConfig(cert)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	return srv, l.Addr().String()
}
