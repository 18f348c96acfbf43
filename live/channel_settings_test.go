package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// TestChannelSettings: a channel's own reconnect window replaces the
// server's, longer or shorter, 0 included; with KeepOnUnpublish a clean
// unpublish leaves the stream away for the window, and the channel's next
// publish continues it, unless the window is 0.
func TestChannelSettings(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.ReconnectWindow = time.Hour
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	window := func(d time.Duration) *registry.Duration { w := registry.Duration(d); return &w }
	leave := func(m *Manager, n int, settings registry.ChannelSettings, reason error) *Stream {
		t.Helper()
		ch := channel(n)
		ch.Settings = settings
		return publishAndLeave(t, m, ch, reason)
	}
	dropped := errors.New("connection reset")

	// The channel's window, shorter than the server's hour: the stream
	// ends when it closes.
	s := leave(m, 30, registry.ChannelSettings{ReconnectWindow: window(300 * time.Millisecond)}, dropped)
	if in := s.Info(); in.Publisher != "away" {
		t.Fatalf("dropped with a window of 300ms: publisher %q, want away", in.Publisher)
	}
	testenv.WaitFor(t, 10*time.Second, s.isEnded, "the end after the channel's window")

	// The channel's window on a server without one: the stream waits.
	cfg.ReconnectWindow = 0
	off, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Shutdown(context.Background())
	if s := leave(off, 35, registry.ChannelSettings{ReconnectWindow: window(time.Minute)}, dropped); s.Info().Publisher != "away" {
		t.Errorf("dropped with a window of 1m on a server without one: publisher %q, want away", s.Info().Publisher)
	}

	// A window of 0: a dropped publisher ends the stream at once.
	if s := leave(m, 31, registry.ChannelSettings{ReconnectWindow: window(0)}, dropped); !s.isEnded() {
		t.Errorf("dropped with a window of 0: publisher %q, want the stream ended", s.Info().Publisher)
	}

	// KeepOnUnpublish: a clean unpublish leaves the stream away, and the
	// next publish continues it.
	keep := registry.ChannelSettings{KeepOnUnpublish: true}
	s = leave(m, 32, keep, nil)
	if in := s.Info(); !in.Live || in.Publisher != "away" || in.AwaySince == nil {
		t.Fatalf("unpublished, kept: live %v publisher %q", in.Live, in.Publisher)
	}
	ch := channel(32)
	ch.Settings = keep
	back, err := m.Publish(ch, "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Stream() != s {
		t.Fatal("the publish after a kept unpublish started a new stream")
	}
	publish(t, back) // ends with a clean unpublish: kept again
	if in := s.Info(); !in.Live || in.Publisher != "away" || in.Reconnects != 1 {
		t.Errorf("after the second unpublish: live %v publisher %q reconnects %d", in.Live, in.Publisher, in.Reconnects)
	}
	m.Kick(ch.ID) // the key revoked while away: ended at once, kept or not
	testenv.WaitFor(t, 10*time.Second, s.isEnded, "the end of a kept stream whose key was revoked")

	// Without it, or with a window of 0, a clean unpublish ends the
	// stream at once.
	if s := leave(m, 33, registry.ChannelSettings{}, nil); !s.isEnded() {
		t.Error("a clean unpublish without KeepOnUnpublish left the stream live")
	}
	if s := leave(m, 34, registry.ChannelSettings{KeepOnUnpublish: true, ReconnectWindow: window(0)}, nil); !s.isEnded() {
		t.Error("a clean unpublish with KeepOnUnpublish and a window of 0 left the stream live")
	}
}
