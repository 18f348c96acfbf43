package live

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// TestDroppedPublisherContinuesTheStream: a publisher that drops (End with
// an error) leaves its stream live, away; the channel's next publish
// continues the same stream (one run of segment numbers, one ENDLIST at
// the clean end); a publish that takes over while the first is still
// writing detaches it without mixing their packets.
func TestDroppedPublisherContinuesTheStream(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.ReconnectWindow = time.Minute
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	ch := channel(20)
	video, audio, packets := source(t)

	first, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, p := range packets[:len(packets)/2] {
		if err := first.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	first.End(errors.New("connection reset"))
	s := first.Stream()
	if in := s.Info(); !in.Live || in.Publisher != "away" || in.AwaySince == nil {
		t.Fatalf("after the drop: live %v publisher %q", in.Live, in.Publisher)
	}

	// Back: the same stream, the packets placed after the slate.
	second, err := m.Publish(ch, "127.0.0.1:5001", nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Stream() != s {
		t.Fatal("the publish after the drop started a new stream")
	}
	if err := second.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	// A third publish takes over while the second writes.
	writing := make(chan error, 1)
	go func() {
		for _, p := range packets {
			if err := second.WritePacket(p); err != nil {
				writing <- err
				return
			}
		}
		writing <- nil
	}()
	third, err := m.Publish(ch, "127.0.0.1:5002", nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the publish taken over is not disconnected")
	}
	if err := <-writing; err != nil && !errors.Is(err, errTakenOver) {
		t.Errorf("the publish taken over: %v", err)
	}
	second.End(errors.New("closed"))
	publish(t, third)

	in := s.Info()
	if in.Live || in.Reconnects != 2 {
		t.Errorf("after the clean end: live %v, reconnects %d (want 2)", in.Live, in.Reconnects)
	}
	st, _ := m.Lookup(ch.PlaybackID)
	pl := string(get(t, st, "360p/index.m3u8"))
	if strings.Count(pl, "#EXT-X-ENDLIST") != 1 || strings.Contains(pl, "DISCONTINUITY") {
		t.Errorf("playlist:\n%s", pl)
	}
	seqs := segmentNumbers(t, []byte(pl))
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("segment %d follows %d", seqs[i], seqs[i-1])
		}
	}
}

// TestReconnectWindowEndsTheStream: nobody comes back: the stream ends
// when the window closes; a key revoked while away ends it at once.
func TestReconnectWindowEndsTheStream(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	cfg := testConfig(t)
	cfg.ReconnectWindow = 500 * time.Millisecond
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	drop := func(ch int) *Stream { return publishAndLeave(t, m, channel(ch), errors.New("timeout")) }
	s := drop(21)
	testenv.WaitFor(t, 10*time.Second, s.isEnded, "the end after the window")
	if st, _ := m.Lookup(channel(21).PlaybackID); !strings.Contains(string(get(t, st, "360p/index.m3u8")), "#EXT-X-ENDLIST") {
		t.Error("no ENDLIST after the window")
	}

	cfg.ReconnectWindow = time.Hour
	m2, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Shutdown(context.Background())
	m = m2
	s = drop(22)
	m.Kick(channel(22).ID)
	testenv.WaitFor(t, 10*time.Second, s.isEnded, "the end after the key was revoked")
}

// publishAndLeave publishes the first 2 s of the test source as ch on m
// and ends the publish with reason (nil: a clean unpublish).
func publishAndLeave(t *testing.T, m *Manager, ch registry.Channel, reason error) *Stream {
	t.Helper()
	video, audio, packets := source(t)
	p, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	for _, pkt := range packets[:60] {
		if err := p.WritePacket(pkt); err != nil {
			t.Fatal(err)
		}
	}
	p.End(reason)
	return p.Stream()
}
