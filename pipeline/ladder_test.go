package pipeline

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

func TestPlan(t *testing.T) {
	type size struct{ w, h int }
	cases := []struct {
		name string
		w, h int
		want map[string]size
	}{
		{"720p source", 1280, 720, map[string]size{"360p": {640, 360}, "480p": {842, 474}, "720p": {1280, 720}}},
		{"1080p source", 1920, 1080, map[string]size{"360p": {640, 360}, "480p": {842, 474}, "720p": {1280, 720}}},
		{"480p source never upscales", 854, 480, map[string]size{"360p": {640, 360}, "480p": {842, 472}}},
		{"360p source", 640, 360, map[string]size{"360p": {640, 360}}},
		{"4:3 source", 1440, 1080, map[string]size{"360p": {480, 360}, "480p": {640, 480}, "720p": {960, 720}}},
		{"portrait source", 1080, 1920, map[string]size{"360p": {202, 360}, "480p": {270, 480}, "720p": {404, 720}}},
		{"tiny source keeps one rung at its size", 320, 240, map[string]size{"360p": {320, 240}}},
		{"odd source", 1279, 719, map[string]size{"360p": {640, 360}, "480p": {842, 472}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Plan(DefaultLadder(), c.w, c.h)
			if len(got) != len(c.want) {
				t.Fatalf("Plan(%dx%d) = %d renditions %+v, want %d", c.w, c.h, len(got), got, len(c.want))
			}
			for _, p := range got {
				w, ok := c.want[p.Name]
				if !ok || p.OutWidth != w.w || p.OutHeight != w.h {
					t.Errorf("%s: %dx%d, want %v (present %v)", p.Name, p.OutWidth, p.OutHeight, w, ok)
				}
				if p.OutWidth%2 != 0 || p.OutHeight%2 != 0 {
					t.Errorf("%s: odd size %dx%d", p.Name, p.OutWidth, p.OutHeight)
				}
			}
		})
	}
}

func TestGOPFrames(t *testing.T) {
	for _, c := range []struct {
		rate media.Rational
		want int
	}{
		{media.Rational{Num: 30, Den: 1}, 60},
		{media.Rational{Num: 24, Den: 1}, 48},
		{media.Rational{Num: 30000, Den: 1001}, 60},
		{media.Rational{Num: 25, Den: 1}, 50},
		{media.Rational{Num: 60, Den: 1}, 120},
	} {
		if got := GOPFrames(2*time.Second, c.rate); got != c.want {
			t.Errorf("GOPFrames(2s, %s) = %d, want %d", c.rate, got, c.want)
		}
	}
}

func TestEncoderThreadsShareCores(t *testing.T) {
	plan := Plan(DefaultLadder(), 1280, 720)
	total := 0
	for _, r := range plan {
		n := EncoderThreads(Config{}, r, plan)
		if n < 1 {
			t.Fatalf("%s: %d threads", r.Name, n)
		}
		total += n
	}
	if got := EncoderThreads(Config{EncoderThreads: 3}, plan[0], plan); got != 3 {
		t.Errorf("configured threads: got %d, want 3", got)
	}
	if total < len(plan) {
		t.Errorf("total threads %d < renditions %d", total, len(plan))
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := DefaultConfig()
	bad.Ladder = append([]Rendition(nil), bad.Ladder...)
	bad.Ladder[1].Height = 481
	bad.Ladder[2].Name = "360p"
	bad.PlaylistWindow = 1
	bad.Ladder[0].Preset = "turbo"
	bad.Preset = "quick"
	bad.Lookahead = -2
	bad.BFrames = 17
	err := bad.Validate()
	for _, want := range []string{"ladder[1].height: must be even", `ladder[2].name: "360p" is used twice`, "playlist_window",
		`ladder[0].preset: "turbo": want one of ultrafast,`, `preset: "quick"`,
		"lookahead: -2: want -1 (none)", "bframes: 17: want -1 (none)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestPresetOf(t *testing.T) {
	c := DefaultConfig()
	r := c.Ladder[0]
	if got := c.PresetOf(r); got != "veryfast" {
		t.Errorf("PresetOf without a rendition preset = %q, want the transcode's", got)
	}
	r.Preset = "superfast"
	if got := c.PresetOf(r); got != "superfast" {
		t.Errorf("PresetOf = %q, want the rendition's", got)
	}
	c.Ladder = append([]Rendition{r}, c.Ladder[1:]...)
	if err := c.Validate(); err != nil {
		t.Errorf("a rendition preset: %v", err)
	}
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]Bitrate{"800k": 800_000, "2.8M": 2_800_000, "96000": 96_000, "1498k": 1_498_000} {
		got, err := ParseBitrate(in)
		if err != nil || got != want {
			t.Errorf("ParseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1k", "k"} {
		if _, err := ParseBitrate(in); err == nil {
			t.Errorf("ParseBitrate(%q): no error", in)
		}
	}
}

// TestThreadsShareTheProcess: a ladder alone on 16 cores spreads its
// encoders over them; with 4 ladders running each gets 4 cores' worth;
// with as many ladders as cores every encoder and decoder gets one thread.
func TestThreadsShareTheProcess(t *testing.T) {
	plan := Plan(DefaultLadder(), 1920, 1080) // 360p, 480p, 720p
	for _, c := range []struct {
		cores   int
		want    []int
		decoder int
	}{
		{16, []int{2, 4, 10}, 0},
		{4, []int{1, 1, 2}, 0},
		{2, []int{1, 1, 1}, 1},
		{1, []int{1, 1, 1}, 1},
	} {
		for i, r := range plan {
			if got := encoderThreads(c.cores, r, plan); got != c.want[i] {
				t.Errorf("%d cores: %s gets %d threads, want %d", c.cores, r.Name, got, c.want[i])
			}
		}
		if got := decoderThreads(c.cores, plan); got != c.decoder {
			t.Errorf("%d cores: decoder threads %d, want %d", c.cores, got, c.decoder)
		}
	}
	n := runtime.NumCPU()
	ladders.Add(int64(n)) // on top of any graph another test runs
	defer ladders.Add(-int64(n))
	if got := LadderCores(); got != 1 {
		t.Errorf("%d ladders on %d cores: LadderCores() = %d, want 1", n, n, got)
	}
	for _, r := range plan {
		if got := EncoderThreads(Config{}, r, plan); got != 1 {
			t.Errorf("%d ladders on %d cores: %s gets %d threads, want 1", n, n, r.Name, got)
		}
	}
}

func TestDecoderThreads(t *testing.T) {
	full := Plan(DefaultLadder(), 1280, 720)
	one := Plan(DefaultLadder()[:1], 1280, 720)
	if got := DecoderThreads(Config{DecoderThreads: 4}, full, media.H264); got != 4 {
		t.Errorf("configured: got %d, want 4", got)
	}
	// This machine's answers: three renditions keep 2 or 3 cores busy, so
	// the decoder gets one thread; a lone rendition leaves FFmpeg to choose.
	switch cores := runtime.NumCPU(); {
	case cores <= 3:
		if got := DecoderThreads(Config{}, full, media.H264); got != 1 {
			t.Errorf("3 renditions on %d cores: %d decoder threads, want 1", cores, got)
		}
		if got := DecoderThreads(Config{}, one, media.H264); cores >= 2 && got != 0 {
			t.Errorf("1 rendition on %d cores: %d decoder threads, want 0 (FFmpeg's choice)", cores, got)
		}
	default:
		if got := DecoderThreads(Config{}, full, media.H264); got != 0 {
			t.Errorf("3 renditions on %d cores: %d decoder threads, want 0 (FFmpeg's choice)", cores, got)
		}
	}
	// HEVC's decode is too dear for one thread whatever the plan.
	if got := DecoderThreads(Config{}, full, media.HEVC); got != 0 {
		t.Errorf("HEVC: %d decoder threads, want 0 (FFmpeg's choice)", got)
	}
}

func TestDelayForLive(t *testing.T) {
	for _, c := range []struct {
		name                 string
		cfg                  Config
		live                 bool
		lookahead, bframes   int
		constantRate, sliced bool
	}{
		{"live default", Config{}, true, LiveLookahead, LiveBFrames, true, true},
		{"file default", Config{}, false, 0, 0, false, false},
		{"live configured", Config{Lookahead: 20, BFrames: 2}, true, 20, 2, true, true},
		{"file configured", Config{Lookahead: 20, BFrames: 2}, false, 20, 2, false, false},
		{"live none", Config{Lookahead: -1, BFrames: -1}, true, codec.Disabled, codec.Disabled, true, true},
		{"file none", Config{Lookahead: -1, BFrames: -1}, false, codec.Disabled, codec.Disabled, false, false},
	} {
		var ec codec.VideoEncoderConfig
		setDelay(&ec, c.cfg, c.live)
		if ec.Lookahead != c.lookahead || ec.BFrames != c.bframes || ec.ConstantRate != c.constantRate || ec.SlicedThreads != c.sliced {
			t.Errorf("%s: lookahead %d, B-frames %d, constant rate %v, sliced threads %v; want %d, %d, %v, %v", c.name,
				ec.Lookahead, ec.BFrames, ec.ConstantRate, ec.SlicedThreads, c.lookahead, c.bframes, c.constantRate, c.sliced)
		}
	}
}
