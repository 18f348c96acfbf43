package ingest

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/yutopp/go-amf0"
	"github.com/yutopp/go-rtmp/message"
)

// flakyListener is a real listener whose first Accepts fail, as they do
// when the process runs out of file descriptors.
type flakyListener struct {
	net.Listener
	mu       sync.Mutex
	failures int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.failures > 0 {
		l.failures--
		l.mu.Unlock()
		return nil, errors.New("accept4: too many open files")
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptErrors: errors that pass are retried with backoff; a listener
// closed under the server ends Serve with that error.
func TestAcceptErrors(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	logs := &lockedBuffer{}
	h := &testHandler{sinks: make(chan *testSink, 4)}
	srv, err := NewServer(Config{Auth: &testAuth{}, Handler: h, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l := &flakyListener{Listener: mustListen(t), failures: 3}
	served := make(chan error, 1)
	start := time.Now()
	go func() { served <- srv.Serve(l) }()

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := handshakeClient(c); err != nil {
		t.Fatalf("handshake after accept errors: %v", err)
	}
	if d := time.Since(start); d < 5*time.Millisecond+10*time.Millisecond+20*time.Millisecond {
		t.Errorf("served after %v: no backoff", d)
	}
	if n := strings.Count(logs.String(), "accept RTMP connection"); n != 3 {
		t.Errorf("%d accept errors logged, want 3", n)
	}

	l.Listener.Close() // not by Shutdown
	select {
	case err := <-served:
		if err == nil || errors.Is(err, ErrServerClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want the listener's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return when its listener closed")
	}
	c.Close()
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestLibraryLogsRedacted makes go-rtmp log a warning that quotes the
// stream key: it reaches our logs redacted.
func TestLibraryLogsRedacted(t *testing.T) {
	h := newHarness(t, nil)
	c := dialPublish(t, h.addr, keyAlpha)
	s := h.sink()
	var body bytes.Buffer
	enc := amf0.NewEncoder(&body)
	enc.Encode(nil)
	enc.Encode(keyAlpha)
	msg := &message.CommandMessage{CommandName: "xyzzy", TransactionID: 9, Encoding: message.EncodingTypeAMF0, Body: &body}
	if err := c.stream.Write(3, 0, msg); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(h.logs.String(), "go-rtmp: Ignored unknown message body") },
		"go-rtmp's warning")
	if !strings.Contains(h.logs.String(), redacted) {
		t.Errorf("the warning is not redacted:\n%s", h.logs.String())
	}
	c.cc.Close()
	s.wait(t)
}
