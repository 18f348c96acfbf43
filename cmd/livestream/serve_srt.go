package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/ingest/srt"
)

// SRTConfig is SRT ingest's part of the serve and server roles. Inline in
// the serve section: srt_addr, srt_passphrase, srt_latency.
type SRTConfig struct {
	// SRTAddr, when set, takes SRT publishers on this UDP address
	// (srt://HOST:9000?streamid=STREAM_KEY). Empty: no SRT.
	SRTAddr string `yaml:"srt_addr"`
	// SRTPassphrase, when set, is required of every SRT publisher (SRT's
	// AES encryption; 10 to 79 characters). Prefer
	// LIVESTREAM_SRT_PASSPHRASE to the file or a flag.
	SRTPassphrase string `yaml:"srt_passphrase"`
	// SRTLatency is the SRT receive latency: how long packets wait for
	// retransmissions; the larger of ours and the publisher's applies.
	// Default 120ms; 3–4× the round trip for a publisher far away.
	SRTLatency time.Duration `yaml:"srt_latency"`
}

func (c SRTConfig) withDefaults() SRTConfig {
	if c.SRTLatency == 0 {
		c.SRTLatency = 120 * time.Millisecond
	}
	return c
}

func (c SRTConfig) validate() error {
	if n := len(c.SRTPassphrase); n != 0 && (n < 10 || n > 79) {
		return fmt.Errorf("srt_passphrase: %d characters: must be 10 to 79 (SRT's bounds)", n)
	}
	if c.SRTLatency < 0 || c.SRTLatency > time.Minute {
		return fmt.Errorf("srt_latency %s: must be 0 to 1m", c.SRTLatency)
	}
	return nil
}

// srtFlags registers --srt-addr, --srt-passphrase and --srt-latency; the
// function it returns applies those given.
func srtFlags(fs *flag.FlagSet) func(c *SRTConfig, set map[string]bool) {
	addr := fs.String("srt-addr", "", "SRT listen `address` (UDP), e.g. :9000 (default: no SRT ingest)")
	pass := fs.String("srt-passphrase", "", "require this SRT `passphrase` (10–79 characters) of SRT publishers (default: none; prefer LIVESTREAM_SRT_PASSPHRASE, which ps does not show)")
	latency := fs.Duration("srt-latency", 0, "SRT receive `latency` (default 120ms)")
	return func(c *SRTConfig, set map[string]bool) {
		if set["srt-addr"] {
			c.SRTAddr = *addr
		}
		if set["srt-passphrase"] {
			c.SRTPassphrase = *pass
		}
		if set["srt-latency"] {
			c.SRTLatency = *latency
		}
	}
}

// srtIngest is the SRT listener of a role, or nothing when SRTAddr is
// empty: its publishes go through ing's AcceptPublish, RTMP's key check and
// Handler.
type srtIngest struct{ srv *srt.Server }

func listenSRT(c SRTConfig, ing *ingest.Server, log *slog.Logger) (*srtIngest, error) {
	if c.SRTAddr == "" {
		return &srtIngest{}, nil
	}
	srv, err := srt.Listen(c.SRTAddr, srt.Config{Ingest: ing, Passphrase: c.SRTPassphrase, Latency: c.SRTLatency, Logger: log})
	if err != nil {
		return nil, err
	}
	return &srtIngest{srv: srv}, nil
}

// serve runs the listener, sending its end to errc (nil after shutdown).
func (s *srtIngest) serve(errc chan<- error) {
	if s.srv == nil {
		return
	}
	go func() {
		err := s.srv.Serve()
		if err == srt.ErrServerClosed {
			err = nil
		}
		errc <- serveErr("SRT", err)
	}()
}

// addr is the listener's address for a log line, "" without one.
func (s *srtIngest) addr() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.Addr().String()
}

func (s *srtIngest) shutdown(ctx context.Context, log *slog.Logger) {
	if s.srv == nil {
		return
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		log.Warn("SRT shutdown", "err", err)
	}
}
