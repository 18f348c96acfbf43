package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rendition is one rung of the ladder.
type Rendition struct {
	// Name is the rendition's folder and label ("720p").
	Name string `yaml:"name" json:"name"`
	// Width and Height are the box the picture is fitted inside, keeping
	// the source's aspect ratio, with even dimensions.
	Width  int `yaml:"width" json:"width"`
	Height int `yaml:"height" json:"height"`
	// VideoBitrate, MaxRate and BufSize drive x264's VBV (CRF with a cap).
	VideoBitrate Bitrate `yaml:"video_bitrate" json:"video_bitrate"`
	MaxRate      Bitrate `yaml:"maxrate" json:"maxrate"`
	BufSize      Bitrate `yaml:"bufsize" json:"bufsize"`
	// AudioBitrate is the AAC bitrate; renditions with the same one share an encode.
	AudioBitrate Bitrate `yaml:"audio_bitrate" json:"audio_bitrate"`
	// Preset is this rendition's x264 preset; empty: the transcode's. A
	// faster one on the lower rungs is the density knob: it trades their
	// quality for CPU (README "More streams per node").
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty"`
}

// x264Presets are the presets x264 knows, fastest first.
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}

// PresetOf is the x264 preset of rendition r: its own, else c's.
func (c Config) PresetOf(r Rendition) string {
	if r.Preset != "" {
		return r.Preset
	}
	return c.Preset
}

// Config is the transcoding configuration shared by every stream.
// Zero fields mean the default (DefaultConfig).
type Config struct {
	// Ladder lists the renditions, lowest first. Renditions taller than the
	// source are left out (never upscale).
	Ladder []Rendition `yaml:"ladder" json:"ladder"`
	// SegmentDuration is the HLS target duration: a segment is cut at the
	// first keyframe at or after it. Default 6s.
	SegmentDuration time.Duration `yaml:"segment_duration" json:"segment_duration"`
	// KeyframeInterval is the GOP length in stream time: the frame clock
	// forces a keyframe on the first picture at or past each multiple of
	// it, identically on every rendition. Default 2s.
	KeyframeInterval time.Duration `yaml:"keyframe_interval" json:"keyframe_interval"`
	// PlaylistWindow is the number of segments in a live playlist. Default 10.
	PlaylistWindow int `yaml:"playlist_window" json:"playlist_window"`
	// Preset, Profile and CRF are x264's. Defaults veryfast, main, 20.
	Preset  string  `yaml:"preset" json:"preset"`
	Profile string  `yaml:"profile" json:"profile"`
	CRF     float64 `yaml:"crf" json:"crf"`
	// Lookahead is x264's rate-control lookahead in frames. 0 chooses:
	// LiveLookahead (3) for live streams, the preset's (10 at veryfast) for
	// files; -1 is none, which also turns off x264's MB-tree. Each frame
	// less lists a live segment or part one frame sooner, at some cost in
	// quality.
	Lookahead int `yaml:"lookahead" json:"lookahead"`
	// BFrames is the most consecutive B-frames x264 may use. 0 chooses:
	// none for live streams (LiveBFrames), the preset's (3 at veryfast)
	// for files; -1 is none. A live picture waits in x264 for the larger of
	// this and the lookahead, and a B-picture for the reference after it.
	BFrames int `yaml:"bframes" json:"bframes"`
	// AudioSampleRate and AudioChannels of the AAC output. Defaults 48000, 2.
	AudioSampleRate int `yaml:"audio_sample_rate" json:"audio_sample_rate"`
	AudioChannels   int `yaml:"audio_channels" json:"audio_channels"`
	// EncoderThreads is x264's thread count per rendition; 0 lets the
	// pipeline choose from the number of cores and renditions. A live
	// stream's threads split each picture into slices, which delays
	// nothing; a file's encode pictures in parallel (frame threads).
	EncoderThreads int `yaml:"encoder_threads" json:"encoder_threads"`
	// DecoderThreads is the H.264 decoder's thread count; 0 lets the
	// pipeline choose (see DecoderThreads).
	DecoderThreads int `yaml:"decoder_threads" json:"decoder_threads"`
	// DirectScaling scales every rendition from the source picture, as
	// the ffmpeg CLI's ladder does, instead of cascading (480p and 360p
	// from the 720p picture; see ladderScaler). It costs CPU on sources
	// larger than the top rung for pictures that differ by less than x264's
	// own rounding.
	DirectScaling bool `yaml:"direct_scaling" json:"direct_scaling"`
	// LagBudget is how far a live ladder may fall behind its publisher
	// (a starved machine) before it skips pictures, never a keyframe's nor
	// any audio, until it is back under half of it. Default 5s; files
	// are never skipped.
	LagBudget time.Duration `yaml:"lag_budget" json:"lag_budget"`
	// SlateImage is a picture (PNG, JPEG) a live ladder shows while its
	// publisher is away, in the reconnect window, scaled to every
	// rendition's size. Empty: the stream's last picture.
	SlateImage string `yaml:"slate_image" json:"slate_image"`
}

// DefaultLadder is the ladder this product has always used.
func DefaultLadder() []Rendition {
	return []Rendition{
		{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000},
		{Name: "480p", Width: 842, Height: 480, VideoBitrate: 1_400_000, MaxRate: 1_498_000, BufSize: 2_100_000, AudioBitrate: 128_000},
		{Name: "720p", Width: 1280, Height: 720, VideoBitrate: 2_800_000, MaxRate: 2_996_000, BufSize: 4_200_000, AudioBitrate: 128_000},
	}
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if len(c.Ladder) == 0 {
		c.Ladder = DefaultLadder()
	}
	if c.SegmentDuration == 0 {
		c.SegmentDuration = 6 * time.Second
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = 2 * time.Second
	}
	if c.PlaylistWindow == 0 {
		c.PlaylistWindow = 10
	}
	if c.Preset == "" {
		c.Preset = "veryfast"
	}
	if c.Profile == "" {
		c.Profile = "main"
	}
	if c.CRF == 0 {
		c.CRF = 20
	}
	if c.AudioSampleRate == 0 {
		c.AudioSampleRate = 48000
	}
	if c.AudioChannels == 0 {
		c.AudioChannels = 2
	}
	if c.LagBudget == 0 {
		c.LagBudget = 5 * time.Second
	}
	return c
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if len(c.Ladder) == 0 {
		bad("ladder", "must have at least one rendition")
	}
	names := map[string]bool{}
	for i, r := range c.Ladder {
		f := func(name string) string { return fmt.Sprintf("ladder[%d].%s", i, name) }
		switch {
		case r.Name == "" || r.Name == "." || r.Name == "..":
			bad(f("name"), "must be set")
		case names[r.Name]:
			bad(f("name"), "%q is used twice", r.Name)
		}
		for _, ch := range r.Name {
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
				bad(f("name"), "%q: use letters, digits, - and _", r.Name)
				break
			}
		}
		names[r.Name] = true
		if r.Width < 16 || r.Width > 8192 || r.Width%2 != 0 {
			bad(f("width"), "must be even, 16 to 8192")
		}
		if r.Height < 16 || r.Height > 8192 || r.Height%2 != 0 {
			bad(f("height"), "must be even, 16 to 8192")
		}
		if r.VideoBitrate <= 0 {
			bad(f("video_bitrate"), "must be positive")
		}
		if r.MaxRate < 0 || r.MaxRate > 0 && r.MaxRate < r.VideoBitrate {
			bad(f("maxrate"), "must be at least video_bitrate")
		}
		if r.BufSize < 0 || r.MaxRate > 0 && r.BufSize == 0 {
			bad(f("bufsize"), "must be positive with maxrate")
		}
		if r.Preset != "" && !slices.Contains(x264Presets, r.Preset) {
			bad(f("preset"), "%q: want one of %s", r.Preset, strings.Join(x264Presets, ", "))
		}
		if c.AudioSampleRate > 0 && (r.AudioBitrate < 8000 || r.AudioBitrate > 512000) {
			bad(f("audio_bitrate"), "must be 8k to 512k")
		}
	}
	if c.SegmentDuration < time.Second {
		bad("segment_duration", "must be at least 1s")
	}
	if c.KeyframeInterval <= 0 || c.KeyframeInterval > c.SegmentDuration {
		bad("keyframe_interval", "must be positive and at most segment_duration")
	}
	if c.PlaylistWindow < 3 {
		bad("playlist_window", "must be at least 3 (RFC 8216 §6.2.2)")
	}
	if !slices.Contains(x264Presets, c.Preset) {
		bad("preset", "%q: want one of %s", c.Preset, strings.Join(x264Presets, ", "))
	}
	if c.CRF < 0 || c.CRF > 51 {
		bad("crf", "must be 0 to 51")
	}
	switch c.AudioSampleRate {
	case 44100, 48000:
	default:
		bad("audio_sample_rate", "must be 44100 or 48000")
	}
	if c.AudioChannels != 1 && c.AudioChannels != 2 {
		bad("audio_channels", "must be 1 or 2")
	}
	if c.EncoderThreads < 0 || c.EncoderThreads > 64 {
		bad("encoder_threads", "must be 0 to 64")
	}
	if c.Lookahead < -1 || c.Lookahead > 250 {
		bad("lookahead", "%d: want -1 (none), 0 (the default) or up to 250 frames", c.Lookahead)
	}
	if c.BFrames < -1 || c.BFrames > 16 {
		bad("bframes", "%d: want -1 (none), 0 (the default) or up to 16", c.BFrames)
	}
	if c.DecoderThreads < 0 || c.DecoderThreads > 64 {
		bad("decoder_threads", "must be 0 to 64")
	}
	if c.LagBudget < time.Second {
		bad("lag_budget", "%v: must be at least 1s (a GOP late is not behind)", c.LagBudget)
	}
	return errors.Join(errs...)
}
