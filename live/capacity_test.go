package live

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// TestOverloaded: while Config.Overloaded reports true, a new publish
// fails with ErrOverCapacity (the live ones go on); once it reports false,
// publishes are taken again.
func TestOverloaded(t *testing.T) {
	var busy atomic.Bool
	cfg := testConfig(t)
	cfg.Overloaded = busy.Load
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Publish(channel(1), "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	busy.Store(true)
	if _, err := m.Publish(channel(2), "127.0.0.1:5001", nil); !errors.Is(err, ErrOverCapacity) {
		t.Fatalf("publish while overloaded: err = %v, want ErrOverCapacity", err)
	}
	if n := m.LiveCount(); n != 1 {
		t.Errorf("LiveCount = %d, want 1: the live stream goes on", n)
	}
	busy.Store(false)
	s2, err := m.Publish(channel(2), "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatalf("publish once no longer overloaded: %v", err)
	}
	s.End(nil)
	s2.End(nil)
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
