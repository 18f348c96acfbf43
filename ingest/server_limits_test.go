package ingest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// slowTimeouts keeps the deadlines out of the way of a test that checks
// something else closes a connection, and fast.
func slowTimeouts(c *Config) {
	c.IdleTimeout = 10 * time.Second
	c.HandshakeTimeout = 10 * time.Second
}

// TestGarbageClosedQuickly sends bytes that are not RTMP, then RTMP whose
// chunks break our limits: each connection is closed at once (well before
// any timeout), and a publish alongside goes on unaffected.
func TestGarbageClosedQuickly(t *testing.T) {
	h := newHarness(t, slowTimeouts)
	src := source(t, testenv.SourceOptions{Audio: true})
	good := startFFmpeg(t, 30*time.Second, "-re", "-i", src, "-t", "2", "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	s := h.sink()
	s.waitFor(t, s.started, "the good publish to start")

	deep := amfCommand(bytes.Repeat([]byte{amfStrictArray, 0, 0, 0, 1}, 1000))
	huge := amfCommand([]byte{amfStrictArray, 0x7f, 0xff, 0xff, 0xff})
	for _, c := range []struct {
		name      string
		handshake bool
		send      []byte
	}{
		{"HTTP request", false, []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n")},
		{"TLS client hello", false, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}},
		{"a 16 MiB message", true, chunk(6, msgVideo, 1<<24-1, make([]byte, 128))},
		{"a chunk that continues nothing", true, []byte{0xc5, 1, 2, 3, 4}},
		{"AMF nested a thousand deep", true, chunk(3, msgCommandAMF0, len(deep), deep)},
		{"an AMF array of 2³¹ values", true, chunk(3, msgCommandAMF0, len(huge), huge)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var conn net.Conn
			if c.handshake {
				conn = rawConn(t, h.addr)
			} else {
				var err error
				if conn, err = net.Dial("tcp", h.addr); err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
			}
			if _, err := conn.Write(c.send); err != nil {
				t.Fatal(err)
			}
			closedWithin(t, conn, 2*time.Second)
		})
	}
	if err := waitExit(t, good, 20*time.Second); err != nil {
		t.Errorf("the publish alongside failed: %v", err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("the publish alongside ended with %v", err)
	}
	// Each at debug level; at info, one line for the address.
	logs := h.logs.String()
	if n := countLines(logs, `level=DEBUG msg="connection closed"`, "RTMP protocol violation"); n != 6 {
		t.Errorf("%d of the six violations logged at debug level:\n%s", n, logs)
	}
	if n := countLines(logs, `level=INFO msg="connections closed before publishing"`, "RTMP protocol violation"); n != 1 {
		t.Errorf("%d info lines for the violations, want one:\n%s", n, logs)
	}
}

// TestIdleTimeout closes a client that completed the handshake and then
// went silent, after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.IdleTimeout = idle; c.HandshakeTimeout = 10 * time.Second })
	conn := rawConn(t, h.addr)
	if d := closedWithin(t, conn, 5*time.Second); d < idle-50*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout of %v", d, idle)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(h.logs.String(), "nothing received for 300ms") }, "the idle close to be logged")
}

// TestIdleTimeoutPublishing ends a publish whose publisher stalls.
func TestIdleTimeoutPublishing(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := dialPublish(t, h.addr, keyAlpha)
	s := h.sink()
	if err := c.video(t, 0, avcSeq(testAVCC)); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(t); !errors.Is(err, ErrIdleTimeout) {
		t.Errorf("End(%v), want ErrIdleTimeout", err)
	}
}

// TestHandshakeTimeout closes a client that keeps talking without ever
// publishing, after HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	const limit = 500 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 10 * time.Second; c.HandshakeTimeout = limit })
	conn := rawConn(t, h.addr)
	start := time.Now()
	winAck := chunk(2, 5, 4, []byte{0, 0x26, 0x25, 0xa0}) // Window Acknowledgement Size, again and again
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for range ticker.C {
		if _, err := conn.Write(winAck); err != nil {
			break // the server closed it
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a client that never publishes is still connected after 5 s")
		}
	}
	if d := time.Since(start); d < limit {
		t.Errorf("closed after %v, before HandshakeTimeout", d)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(h.logs.String(), "no publish within 500ms") }, "the close to be logged")
}

// TestStartTimeout ends a publish that never sends a codec header.
func TestStartTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.StartTimeout = 200 * time.Millisecond })
	dialPublish(t, h.addr, keyAlpha)
	s := h.sink()
	start := time.Now()
	if err := s.wait(t); !errors.Is(err, ErrNoCodecHeaders) {
		t.Errorf("End(%v), want ErrNoCodecHeaders", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ended after %v", d)
	}
	if v, a, p := s.received(); v != nil || a != nil || len(p) != 0 {
		t.Errorf("a publish without headers started")
	}
}

// TestSinkDone ends an ongoing FFmpeg publish when the Sink's Done closes.
func TestSinkDone(t *testing.T) {
	h := newHarness(t, nil)
	src := source(t, testenv.SourceOptions{Audio: true})
	cmd := startFFmpeg(t, 30*time.Second, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	s := h.sink()
	s.waitFor(t, s.enough, "packets")
	s.stop()
	if err := s.wait(t); !errors.Is(err, ErrSinkDone) {
		t.Errorf("End(%v), want ErrSinkDone", err)
	}
	if err := waitExit(t, cmd, 10*time.Second); err == nil {
		t.Error("ffmpeg exited cleanly from a publish the server ended")
	}
	if s.ctx.Err() == nil {
		t.Error("the context given to Publish is not cancelled")
	}
}

// TestShutdown ends every publish and stops accepting.
func TestShutdown(t *testing.T) {
	h := newHarness(t, nil)
	src := source(t, testenv.SourceOptions{Audio: true})
	var sinks []*testSink
	a := startFFmpeg(t, 30*time.Second, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	b := startFFmpeg(t, 30*time.Second, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyBravo))
	for range 2 {
		s := h.sink()
		s.waitFor(t, s.enough, "packets")
		sinks = append(sinks, s)
	}
	idle := rawConn(t, h.addr) // a connection that never published

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, s := range sinks {
		if err := s.wait(t); !errors.Is(err, ErrServerClosed) {
			t.Errorf("%s: End(%v), want ErrServerClosed", s.ch.ID, err)
		}
	}
	if err := waitExit(t, a, 10*time.Second); err == nil {
		t.Error("ffmpeg exited cleanly")
	}
	if err := waitExit(t, b, 10*time.Second); err == nil {
		t.Error("ffmpeg exited cleanly")
	}
	closedWithin(t, idle, time.Second)
	if _, err := net.Dial("tcp", h.addr); err == nil {
		t.Error("the server still accepts connections")
	}
	if err := h.srv.Serve(mustListen(t)); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestShutdownBlockedSink: a Sink blocked in WritePacket (backpressure)
// returns when the Publish context is cancelled, and Shutdown completes.
func TestShutdownBlockedSink(t *testing.T) {
	h := newHarness(t, nil)
	h.handler.set(nil, func(s *testSink) {
		s.writeErr = func(n int) error {
			if n == 5 {
				<-s.ctx.Done()
				return s.ctx.Err()
			}
			return nil
		}
	})
	src := source(t, testenv.SourceOptions{Audio: true})
	cmd := startFFmpeg(t, 30*time.Second, "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	s := h.sink()
	testenv.WaitFor(t, 10*time.Second, func() bool { _, _, p := s.received(); return len(p) >= 5 }, "the Sink to block")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a blocked Sink: %v", err)
	}
	if err := s.wait(t); !errors.Is(err, ErrServerClosed) {
		t.Errorf("End(%v), want ErrServerClosed", err)
	}
	waitExit(t, cmd, 10*time.Second)
}

// TestMaxConns: connections over Config.MaxConns are closed at once, the
// open ones are unaffected, and room frees up when one leaves.
func TestMaxConns(t *testing.T) {
	h := newHarness(t, func(c *Config) { slowTimeouts(c); c.MaxConns = 2 })
	a := rawConn(t, h.addr)
	rawConn(t, h.addr)
	extra, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	closedWithin(t, extra, 2*time.Second)
	a.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			return false
		}
		c.SetDeadline(time.Now().Add(time.Second))
		ok := handshakeClient(c) == nil
		if !ok {
			c.Close()
		} else {
			t.Cleanup(func() { c.Close() })
		}
		return ok
	}, "room for a connection once one left")
}

// countLines counts the lines of logs that contain every one of parts.
func countLines(logs string, parts ...string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}
