package ingest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// maxLibLogLine bounds a go-rtmp log line we pass on: its errors quote
// whole AMF values.
const maxLibLogLine = 300

// libLogInterval spaces go-rtmp's lines on one connection: it warns once
// per ignored message, and a peer can send those as fast as it likes.
const libLogInterval = time.Second

// newLibLogger returns the logrus logger one connection's go-rtmp writes
// to. Its warnings and errors go to log at warning level, first line only
// (go-rtmp prints stack traces with %+v), with redact applied. Info and
// debug are dropped: go-rtmp logs every command at info level, publishing
// name (the stream key) included. Its "Server closed" lines are dropped
// too when known says the connection knows why it ended and logs that
// itself; otherwise they are the only word on why it closed.
func newLibLogger(log *slog.Logger, redact func(string) string, known func() bool) *logrus.Logger {
	l := logrus.New()
	l.Out = io.Discard
	l.Level = logrus.WarnLevel
	l.ExitFunc = func(int) {} // a library's Fatal must not end the process
	l.AddHook(&libHook{log: log, redact: redact, known: known})
	return l
}

type libHook struct {
	log    *slog.Logger
	redact func(string) string
	known  func() bool

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (h *libHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *libHook) Fire(e *logrus.Entry) error {
	msg, _, _ := strings.Cut(e.Message, "\n")
	closing := strings.HasPrefix(msg, "Server closed") // once per connection
	if closing && h.known() {
		return nil
	}
	h.mu.Lock()
	now := time.Now()
	if now.Sub(h.last) < libLogInterval && !closing {
		h.suppressed++
		h.mu.Unlock()
		return nil
	}
	suppressed := h.suppressed
	h.last, h.suppressed = now, 0
	h.mu.Unlock()

	msg = h.redact(msg)
	if len(msg) > maxLibLogLine {
		msg = strings.ToValidUTF8(msg[:maxLibLogLine], "") + "…"
	}
	var attrs []slog.Attr
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	h.log.LogAttrs(context.Background(), slog.LevelWarn, "go-rtmp: "+msg, attrs...)
	return nil
}
