package srt

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/internal/testenv"
)

// TestIdle: a publisher that connects and sends no media (SRT's keepalives
// flow on) is ended after IdleTimeout as a lost publisher.
func TestIdle(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Second })
	if _, err := dial(t, h, keyAlpha, ""); err != nil {
		t.Fatal(err)
	}
	s := h.sink(5 * time.Second)
	if err := s.wait(t, 10*time.Second); !errors.Is(err, ingest.ErrIdleTimeout) {
		t.Errorf("silent publish ended with %v, want ErrIdleTimeout", err)
	}
}

// TestSinkDoneAndShutdown: a Sink that closes Done (key revoked) ends its
// publish with ErrSinkDone and the connection; Shutdown ends the others
// with ErrServerClosed and refuses what comes after.
func TestSinkDoneAndShutdown(t *testing.T) {
	h := newHarness(t, nil)
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Format: "mpegts"})
	ts, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	send := func(key string) *testSink {
		c, err := dial(t, h, key, "")
		if err != nil {
			t.Fatal(err)
		}
		s := h.sink(5 * time.Second)
		for b := ts[:188*7*40]; len(b) > 0; b = b[1316:] {
			if _, err := c.Write(b[:1316]); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	a, b := send(keyAlpha), send(keyBravo)
	close(a.done)
	if err := a.wait(t, 10*time.Second); !errors.Is(err, ingest.ErrSinkDone) {
		t.Errorf("publish whose Sink is done ended with %v, want ErrSinkDone", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.wait(t, 10*time.Second); !errors.Is(err, ingest.ErrServerClosed) {
		t.Errorf("publish at shutdown ended with %v, want ErrServerClosed", err)
	}
	if _, err := dial(t, h, keyAlpha, ""); err == nil {
		t.Error("connected after Shutdown")
	}
}
