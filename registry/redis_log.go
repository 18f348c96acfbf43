package registry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetRedisLogger sends go-redis's own log lines (a pool's dial failures,
// a connection with unread data) to log as warnings, instead of the
// plain-text lines go-redis prints to stderr, which would break a JSON
// log stream. go-redis has one logger per process.
func SetRedisLogger(log *slog.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *slog.Logger }

// Printf logs one go-redis line. Its lines start with "redis: " and
// name addresses, never a password (the URL is not in them).
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
	l.log.WarnContext(ctx, msg)
}
