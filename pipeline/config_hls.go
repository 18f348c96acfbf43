package pipeline

import (
	"fmt"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// HLSConfig is how live HLS is written: the container, and for fMP4 the
// low-latency parts.
type HLSConfig struct {
	// Format is "fmp4" (CMAF segments with LL-HLS parts: blocking playlist
	// reload, delta updates, preload hints; players without LL-HLS play
	// the same playlists' whole segments) or "ts" (MPEG-TS segments, no
	// parts, for old set-top players). Default fmp4. Recordings are
	// written in the same format.
	Format string `yaml:"format" json:"format"`
	// PartTarget is the longest an fMP4 part lasts: a player in low-latency
	// mode plays about three of these behind the live edge
	// (PART-HOLD-BACK). Default 500ms; 100ms to the segment duration.
	PartTarget time.Duration `yaml:"part_target" json:"part_target"`
}

// DefaultPartTarget is HLSConfig.PartTarget's default.
const DefaultPartTarget = 500 * time.Millisecond

// WithDefaults returns c with every zero field set to its default.
func (c HLSConfig) WithDefaults() HLSConfig {
	if c.Format == "" {
		c.Format = hlsmux.FMP4.String()
	}
	if c.PartTarget == 0 {
		c.PartTarget = DefaultPartTarget
	}
	return c
}

// Validate checks c, which has its defaults, against the segment
// duration parts must fit in.
func (c HLSConfig) Validate(segment time.Duration) error {
	if _, err := hlsmux.ParseFormat(c.Format); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	if c.PartTarget < 100*time.Millisecond || c.PartTarget > segment {
		return fmt.Errorf("part_target: %v: want 100ms to the segment duration (%v)", c.PartTarget, segment)
	}
	return nil
}

// Output returns the format and part target an Output of type t takes:
// parts only for a live fMP4 output.
func (c HLSConfig) Output(t hlsmux.PlaylistType) (hlsmux.Format, time.Duration) {
	f, _ := hlsmux.ParseFormat(c.Format)
	if f != hlsmux.FMP4 || t != hlsmux.Live {
		return f, 0
	}
	return f, c.PartTarget
}
