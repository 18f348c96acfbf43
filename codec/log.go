package codec

import (
	"context"
	"log/slog"
	"strings"

	"github.com/asticode/go-astiav"
)

// SetLogger sends FFmpeg's messages of warning level and above to l (at
// warning level, or error for FFmpeg's errors). Call it once, at start-up.
func SetLogger(l *slog.Logger) {
	astiav.SetLogLevel(astiav.LogLevelWarning)
	astiav.SetLogCallback(func(c astiav.Classer, level astiav.LogLevel, _, msg string) {
		msg = strings.TrimSpace(msg)
		if level > astiav.LogLevelWarning || msg == "" {
			return
		}
		lvl := slog.LevelWarn
		if level <= astiav.LogLevelError {
			lvl = slog.LevelError
		}
		attrs := []slog.Attr{}
		if c != nil {
			if cl := c.Class(); cl != nil {
				attrs = append(attrs, slog.String("ffmpeg", cl.Name()))
			}
		}
		l.LogAttrs(context.Background(), lvl, msg, attrs...)
	})
}

// Quiet silences FFmpeg's own logging (tests and benchmarks).
func Quiet() { astiav.SetLogLevel(astiav.LogLevelQuiet) }
