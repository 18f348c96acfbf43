package srt

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/livestream/livestream/ingest"
)

// Config sets up a Server. Zero fields take the defaults named.
type Config struct {
	// Ingest admits each publish: the stream key check, the failure rate
	// limit, the counters and the Handler it shares with RTMP. Required.
	Ingest *ingest.Server
	// App is the RTMP app a stream id's resource may start with
	// ("stream/KEY"). Default "stream".
	App string
	// Passphrase, when set, is required of every publisher (SRT's AES
	// encryption, 10 to 79 characters); a publisher without it, or with
	// another, is refused. Empty: publishers must not encrypt.
	Passphrase string
	// Latency is the SRT receiver latency (TSBPD delay): how long packets
	// are held for retransmissions to arrive. The larger of ours and the
	// publisher's applies. Default 120 ms (libsrt's); raise it for
	// publishers far away (3–4× the round trip).
	Latency time.Duration
	// IdleTimeout ends a publish that sent no media for this long (a
	// publisher whose network died: SRT's keepalives go on while an
	// encoder hangs). Default 10 s.
	IdleTimeout time.Duration
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.App == "" {
		c.App = "stream"
	}
	if c.Latency == 0 {
		c.Latency = 120 * time.Millisecond
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every field of c (with defaults) that cannot work, named
// as in a config file.
func (c Config) Validate() error {
	var errs []error
	if c.Ingest == nil {
		errs = append(errs, errors.New("ingest: must be set"))
	}
	if n := len(c.Passphrase); n != 0 && (n < 10 || n > 79) {
		errs = append(errs, fmt.Errorf("srt_passphrase: %d characters: must be 10 to 79 (SRT's bounds)", n))
	}
	if c.Latency < 0 || c.Latency > 60*time.Second {
		errs = append(errs, fmt.Errorf("srt_latency: %v: must be 0 to 60s", c.Latency))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("idle_timeout: %v: must be positive", c.IdleTimeout))
	}
	return errors.Join(errs...)
}
