package tlsfile

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func subject(c *tls.Certificate) string { return c.Leaf.Subject.CommonName }

// TestReload: a renewal is served once the check interval has passed, a
// bad pair keeps the certificate in service with one error logged, and
// the next good pair is served again.
func TestReload(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "one", certFile, keyFile)
	logs := &logBuffer{}
	c, err := Load(certFile, keyFile, time.Minute, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if got := subject(c.current(now)); got != "one" {
		t.Fatalf("serving %q, want one", got)
	}

	ca.Issue(t, "two", certFile, keyFile)
	if got := subject(c.current(now.Add(time.Second))); got != "one" {
		t.Errorf("within the check interval: serving %q, want one", got)
	}
	now = now.Add(2 * time.Minute)
	if got := subject(c.current(now)); got != "two" {
		t.Errorf("after the interval: serving %q, want the renewal, two", got)
	}

	// A new certificate whose key has not been written yet: the pair does
	// not match.
	other := filepath.Join(dir, "other-key.pem")
	ca.Issue(t, "three", certFile, other)
	for range 3 {
		now = now.Add(2 * time.Minute)
		if got := subject(c.current(now)); got != "two" {
			t.Errorf("with a mismatched pair: serving %q, want two", got)
		}
	}
	if n := strings.Count(logs.String(), "TLS certificate not reloaded"); n != 1 {
		t.Errorf("the bad pair was logged %d times, want once:\n%s", n, logs.String())
	}
	if err := os.Rename(other, keyFile); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if got := subject(c.current(now)); got != "three" {
		t.Errorf("with the key written: serving %q, want three", got)
	}

	os.Remove(keyFile)
	now = now.Add(2 * time.Minute)
	if got := subject(c.current(now)); got != "three" {
		t.Errorf("with the key gone: serving %q, want three", got)
	}
	if n := strings.Count(logs.String(), "TLS certificate not reloaded"); n != 2 {
		t.Errorf("%d reload errors logged, want 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("no reload logged:\n%s", logs.String())
	}
}

func TestLoadRefusesBadPair(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "one", certFile, keyFile)
	ca.Issue(t, "two", filepath.Join(dir, "two.pem"), keyFile)
	if _, err := Load(certFile, keyFile, 0, nil); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("a mismatched pair: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.pem"), keyFile, 0, nil); err == nil {
		t.Error("a missing certificate loaded")
	}
}

// TestServerConfig: TLS 1.3 and 1.2 with a modern suite connect; TLS 1.1,
// and TLS 1.2 with only a CBC suite, do not.
func TestServerConfig(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "srv", certFile, keyFile)
	c, err := Load(certFile, keyFile, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ServerConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			nc.(*tls.Conn).Handshake()
			nc.Close()
		}
	})
	defer ln.Close()
	for _, tc := range []struct {
		name     string
		min, max uint16
		suites   []uint16
		wantOK   bool
	}{
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, nil, true},
		{"TLS 1.2 GCM", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, true},
		{"TLS 1.2 CBC", tls.VersionTLS12, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, false},
		{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, nil, false},
	} {
		cfg := &tls.Config{MinVersion: tc.min, MaxVersion: tc.max, CipherSuites: tc.suites, RootCAs: ca.Pool, ServerName: "localhost"}
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
		nc, err := d.Dial("tcp", ln.Addr().String())
		if (err == nil) != tc.wantOK {
			t.Errorf("%s: handshake error %v, want success %v", tc.name, err, tc.wantOK)
		}
		if err == nil {
			nc.Close()
		}
	}
}
