package record

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Which renditions of a ladder a session records (Config.Renditions).
const (
	// RenditionsTop records the highest-bandwidth rendition only.
	RenditionsTop = "top"
	// RenditionsAll records every rendition, with a master playlist.
	RenditionsAll = "all"
)

// Config configures a Recorder. Zero fields take the defaults named.
type Config struct {
	// Backend receives the recordings. Required.
	Backend Backend
	// SpoolDir holds each segment from Session.Segment until it is in the
	// backend, and the sessions' manifests. It must be on a local disk
	// that survives a restart (not a tmpfs), and belong to one Recorder.
	// Required.
	SpoolDir string
	// SpoolMaxBytes bounds the size of the spooled segments: beyond it,
	// new segments are dropped (ErrSpoolFull) until uploads free room.
	// Default 2 GiB: over an hour of a 3.5 Mb/s rendition.
	SpoolMaxBytes int64
	// Renditions is RenditionsTop (default) or RenditionsAll.
	Renditions string
	// TargetDuration is the ladder's segment duration, written as the
	// playlists' EXT-X-TARGETDURATION (which grows if a segment is
	// longer). Default 2 s.
	TargetDuration time.Duration
	// MaxAge, when set, deletes recordings whose session started longer
	// ago than it, in a sweep at start-up and then every MaxAge/24
	// (between a minute and an hour).
	MaxAge time.Duration
	// MinBackoff and MaxBackoff bound the wait between two attempts of a
	// failed upload; the wait doubles from MinBackoff, with jitter.
	// Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// UploadTimeout bounds one upload attempt. Default 30 s.
	UploadTimeout time.Duration
	// Logger receives the recorder's logs; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = 2 << 30
	}
	if c.Renditions == "" {
		c.Renditions = RenditionsTop
	}
	if c.TargetDuration == 0 {
		c.TargetDuration = 2 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.UploadTimeout == 0 {
		c.UploadTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first field that is wrong.
func (c Config) Validate() error {
	switch {
	case c.Backend == nil:
		return errors.New("backend: must be set")
	case c.SpoolDir == "":
		return errors.New("spool_dir: must be set")
	case c.SpoolMaxBytes < 0:
		return fmt.Errorf("spool_max_bytes: %d: must not be negative", c.SpoolMaxBytes)
	case c.Renditions != "" && c.Renditions != RenditionsTop && c.Renditions != RenditionsAll:
		return fmt.Errorf("renditions: %q: want %q or %q", c.Renditions, RenditionsTop, RenditionsAll)
	case c.TargetDuration < 0:
		return fmt.Errorf("target_duration: %v: must not be negative", c.TargetDuration)
	case c.MaxAge < 0:
		return fmt.Errorf("max_age: %v: must not be negative", c.MaxAge)
	case c.MinBackoff < 0 || c.MaxBackoff < 0:
		return fmt.Errorf("backoff: %v to %v: must not be negative", c.MinBackoff, c.MaxBackoff)
	case c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff:
		return fmt.Errorf("min_backoff: %v: more than max_backoff %v", c.MinBackoff, c.MaxBackoff)
	case c.UploadTimeout < 0:
		return fmt.Errorf("upload_timeout: %v: must not be negative", c.UploadTimeout)
	}
	return nil
}
