package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestRedisStreamPositions: a stream's position is claimed by the newest
// stream of the playback id, kept for it until it advances, refused to
// the stream that held it before, and marked ended at a clean end.
func TestRedisStreamPositions(t *testing.T) {
	ctx := context.Background()
	s, url := openRedisTemp(t)
	other := openRedisURL(t, url)
	const pid = "pbpositions00001"
	sinceA := time.Date(2026, 12, 7, 12, 0, 0, 5, time.UTC)
	sinceB := sinceA.Add(time.Minute)

	if _, ok, err := s.ClaimPosition(ctx, pid, "srv-a", sinceA, time.Minute); err != nil || ok {
		t.Fatalf("first claim: ok %v, %v; want nothing to continue", ok, err)
	}
	posA := StreamPosition{Server: "srv-a", Since: sinceA, Next: 1000, Discontinuities: 2}
	if err := s.AdvancePosition(ctx, pid, posA, time.Minute); err != nil {
		t.Fatal(err)
	}
	posA.Next = 1001
	if err := s.AdvancePosition(ctx, pid, posA, time.Minute); err != nil {
		t.Fatal(err)
	}

	// The publisher reconnects to srv-b: it continues at srv-a's position.
	got, ok, err := other.ClaimPosition(ctx, pid, "srv-b", sinceB, time.Minute)
	if err != nil || !ok || got.Server != "srv-a" || !got.Since.Equal(sinceA) || got.Next != 1001 || got.Discontinuities != 2 || got.Ended {
		t.Fatalf("claim by srv-b = %+v, %v, %v; want srv-a's position", got, ok, err)
	}
	// srv-a's late advance is refused; srv-b's goes.
	posA.Next = 1002
	if err := s.AdvancePosition(ctx, pid, posA, time.Minute); !errors.Is(err, ErrPositionTaken) {
		t.Errorf("advance by the stream that moved: %v, want ErrPositionTaken", err)
	}
	// srv-b has not advanced yet: a claim now still sees srv-a's numbers.
	if got, ok, _ := s.ClaimPosition(ctx, pid, "srv-b", sinceB, time.Minute); !ok || got.Next != 1001 {
		t.Errorf("claim before the new holder advanced = %+v, %v", got, ok)
	}
	posB := StreamPosition{Server: "srv-b", Since: sinceB, Next: 1003, Discontinuities: 3, Ended: true}
	if err := other.AdvancePosition(ctx, pid, posB, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.ClaimPosition(ctx, pid, "srv-a", sinceB.Add(time.Minute), time.Minute); err != nil || !ok || !got.Ended || got.Next != 1003 {
		t.Errorf("claim after srv-b's clean end = %+v, %v, %v; want it ended", got, ok, err)
	}

	// A position expires.
	if err := s.AdvancePosition(ctx, pid, StreamPosition{Server: "srv-a", Since: sinceB.Add(time.Minute), Next: 5}, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		n, err := s.rdb.Exists(ctx, redisPositionKey(pid)).Result()
		return err == nil && n == 0
	}, "the position to expire")
}
