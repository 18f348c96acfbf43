package registry

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestRedisLogger: what go-redis logs on its own (here, a pool that cannot
// dial a Redis gone away) comes out as JSON lines of the process's logger,
// not go-redis's plain text.
func TestRedisLogger(t *testing.T) {
	var buf testenv.LogBuffer
	SetRedisLogger(slog.New(slog.NewJSONHandler(&buf, nil)).With("component", "redis"))
	t.Cleanup(func() { SetRedisLogger(slog.New(slog.DiscardHandler)) })

	addr := testenv.FreeAddr(t) // nothing listens there
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := OpenRedis(ctx, "redis://"+addr+"/0?dial_timeout=200ms&pool_size=1&min_idle_conns=1"); err == nil {
		t.Fatal("OpenRedis with no Redis: no error")
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(buf.String(), `"component":"redis"`) }, "a go-redis line in the log")
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %q", line)
			continue
		}
		if rec["level"] != "WARN" || strings.HasPrefix(rec["msg"].(string), "redis: ") {
			t.Errorf("go-redis line logged as %v", rec)
		}
	}
}
