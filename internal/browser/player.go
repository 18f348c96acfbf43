package browser

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chromedp/chromedp"
)

// PlayerSample is one snapshot of the watch page's player, as its
// window.__livestream.stats() takes it (origin/static/watch.js). Times are
// in seconds unless named otherwise; a nil field is one the player did not
// know at the time (no hls.js, no playlist loaded yet, no
// EXT-X-PROGRAM-DATE-TIME).
type PlayerSample struct {
	// AtMillis is the page's Date.now() when the sample was taken.
	AtMillis int64 `json:"at"`
	// State is #player's data-state: loading, offline, playing, ended, error.
	State string `json:"state"`
	// Engine is "hls.js", "native" (the browser plays HLS itself) or ""
	// (nothing loaded).
	Engine      string  `json:"engine"`
	CurrentTime float64 `json:"currentTime"`
	// Latency is hls.js's hls.latency: the live edge of the playlist
	// (its last segment or part) minus the playback position. It does not
	// count the time the server took to publish that edge.
	Latency *float64 `json:"latency"`
	// PDTLatency is Date.now() minus the EXT-X-PROGRAM-DATE-TIME of the
	// frame on screen (hls.playingDate). The server stamps each frame's
	// PDT with the wall clock at which it reached ingest, so this is the
	// delay from ingest to screen, as far as the page's and the server's
	// clocks agree (the same clock in tests on 127.0.0.1).
	PDTLatency *float64 `json:"pdtLatency"`
	// TargetLatency is the latency hls.js holds (hls.targetLatency):
	// PART-HOLD-BACK on a low-latency playlist, plus a second per stall.
	TargetLatency *float64 `json:"targetLatency"`
	// BufferAhead is the media buffered from the playback position on.
	BufferAhead float64 `json:"bufferAhead"`
	// PlaybackRate is above 1 while hls.js catches up with its target.
	PlaybackRate float64 `json:"playbackRate"`
	// Level is the index in hls.levels (sorted by bitrate, lowest first)
	// of the rendition playing, LoadLevel of the one being loaded; -1
	// when none.
	Level     int  `json:"level"`
	LoadLevel int  `json:"loadLevel"`
	AutoLevel bool `json:"autoLevel"`
	// Levels is how many renditions the master lists.
	Levels int `json:"levels"`
	// Width, Height and Bitrate are the playing rendition's (0 when
	// unknown).
	Width   int `json:"width"`
	Height  int `json:"height"`
	Bitrate int `json:"bitrate"`
	// LL is whether low-latency HLS is on: the playing rendition's
	// playlist lists parts (EXT-X-PART) and hls.js is in its low-latency
	// mode, so it loads them.
	LL bool `json:"ll"`
	// CanBlockReload, PartTarget and PartHoldBack are that playlist's
	// EXT-X-SERVER-CONTROL and EXT-X-PART-INF (false and 0 without).
	CanBlockReload bool    `json:"canBlockReload"`
	PartTarget     float64 `json:"partTarget"`
	PartHoldBack   float64 `json:"partHoldBack"`
	// DroppedFrames and TotalFrames are the video's, since the page loaded.
	DroppedFrames int `json:"droppedFrames"`
	TotalFrames   int `json:"totalFrames"`
	// The counts below run from the page's load, across restarts; compare
	// two samples (see Summarize). Starts counts the page starting to play
	// (again); Stalls the video's 'waiting' events after it first played,
	// other than a seek's; EmptyStalls those of them with nothing buffered
	// ahead (the media did not come in time: the stream's fault), where
	// the others are the decoder's (a busy machine; a rendition's decoder
	// starting); BufferStalls hls.js's BUFFER_STALLED_ERROR, which it
	// raises for both; Switches its LEVEL_SWITCHED (one comes with each
	// start); FatalErrors its fatal errors.
	Starts       int `json:"starts"`
	Stalls       int `json:"stalls"`
	EmptyStalls  int `json:"emptyStalls"`
	BufferStalls int `json:"bufferStalls"`
	Switches     int `json:"switches"`
	FatalErrors  int `json:"fatalErrors"`
	// StalledSeconds is the time spent stalled, from each stall to the
	// video's next 'playing', the stall going on included.
	StalledSeconds float64 `json:"stalledSeconds"`
	// SwitchedTo is the levels of the last 32 LEVEL_SWITCHED events,
	// oldest first.
	SwitchedTo []int `json:"switchedTo"`
}

// At is when the sample was taken, by the page's clock.
func (s PlayerSample) At() time.Time { return time.UnixMilli(s.AtMillis) }

// readPlayer takes a sample; it fails if the page has no player API.
const readPlayer = `(() => {
	if (!window.__livestream) throw new Error('the page has no window.__livestream');
	return window.__livestream.stats();
})()`

// ReadPlayer takes one sample of the player of the watch page open in ctx
// (a tab of Start).
func ReadPlayer(ctx context.Context) (PlayerSample, error) {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[PlayerSample](readPlayer))
	if err != nil {
		return PlayerSample{}, fmt.Errorf("read the player: %w", err)
	}
	return s, nil
}

// SamplePlayer takes a sample every interval for span, the first at once,
// and returns them oldest first. It stops early, returning what it has
// and the error, if ctx ends or a read fails.
func SamplePlayer(ctx context.Context, every, span time.Duration) ([]PlayerSample, error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	end := time.Now().Add(span)
	var samples []PlayerSample
	for {
		s, err := ReadPlayer(ctx)
		if err != nil {
			return samples, err
		}
		samples = append(samples, s)
		if !time.Now().Before(end) {
			return samples, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return samples, ctx.Err()
		}
	}
}

// WaitPlayer samples the player every 100 ms until ok holds of a sample,
// and returns that sample. After timeout it returns the last sample and
// an error.
func WaitPlayer(ctx context.Context, timeout time.Duration, ok func(PlayerSample) bool) (PlayerSample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last PlayerSample
	for {
		s, err := ReadPlayer(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return last, fmt.Errorf("no matching sample in %v; last %+v", timeout, last)
			}
			return last, err
		}
		if ok(s) {
			return s, nil
		}
		last = s
		select {
		case <-tick.C:
		case <-ctx.Done():
			return last, fmt.Errorf("no matching sample in %v; last %+v", timeout, last)
		}
	}
}

// Switch is how SetLevel switches rendition.
type Switch string

const (
	// SwitchLoad loads the level from the next fragment on and keeps
	// everything buffered (hls.loadLevel), as hls.js's ABR switches: the
	// new level plays once the buffer reaches it, and on a ladder cut on
	// the same keyframes the viewer sees no stall.
	SwitchLoad Switch = "load"
	// SwitchNext plays the level from the next fragment (hls.nextLevel):
	// sooner, but it drops what is buffered after that fragment and loads
	// it again from the new level, which on a low-latency stream's small
	// buffer can run the buffer empty.
	SwitchNext Switch = "next"
	// SwitchNow switches at once, dropping the buffer (hls.currentLevel),
	// as the page's quality menu does: expect a short stall.
	SwitchNow Switch = "now"
)

// SetLevel switches the player of the watch page open in ctx to level, an
// index of hls.levels (sorted by bitrate, lowest first), or back to
// automatic with -1. The switch is manual, as a viewer's choice in the
// quality menu: hls.js's ABR no longer switches. It fails where the page
// cannot switch: native playback, nothing loaded, no such level.
func SetLevel(ctx context.Context, level int, how Switch) error {
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
		`window.__livestream ? window.__livestream.setLevel(%d, %s) : false`, level, JSString(string(how)))))
	if err != nil {
		return fmt.Errorf("switch to level %d: %w", level, err)
	}
	if !ok {
		return fmt.Errorf("switch to level %d: the page cannot (no hls.js, or no such level)", level)
	}
	return nil
}

// SwitchThrough switches the player to each level of order in turn, as
// how says, waits up to timeout until that level plays, then samples it
// every 100 ms for hold. It returns every sample, oldest first, the first
// taken before any switch, for Summarize: a test asserts no stall across
// the switches, and one LEVEL_SWITCHED for each level that was not playing. The player is
// left on the last level, in manual mode.
func SwitchThrough(ctx context.Context, order []int, how Switch, hold, timeout time.Duration) ([]PlayerSample, error) {
	before, err := ReadPlayer(ctx)
	if err != nil {
		return nil, err
	}
	samples := []PlayerSample{before}
	for _, l := range order {
		if err := SetLevel(ctx, l, how); err != nil {
			return samples, err
		}
		s, err := WaitPlayer(ctx, timeout, func(s PlayerSample) bool { return s.Level == l })
		if err != nil {
			return samples, fmt.Errorf("level %d never played: %w", l, err)
		}
		samples = append(samples, s)
		more, err := SamplePlayer(ctx, 100*time.Millisecond, hold)
		samples = append(samples, more...)
		if err != nil {
			return samples, err
		}
	}
	return samples, nil
}

// PlayerSummary is what a run of samples says about playback.
type PlayerSummary struct {
	Samples int
	Span    time.Duration
	// Played is how far the playback position moved.
	Played float64
	// The counts are from the first sample to the last.
	Stalls, EmptyStalls, BufferStalls, Switches, FatalErrors, Starts, DroppedFrames int
	// Stalled is the time spent stalled from the first sample to the last.
	Stalled float64
	// Heights are the distinct heights played, in the order first seen.
	Heights []int
	// LL is whether every sample that played had low-latency HLS on;
	// false without any.
	LL bool
	// PDTLatency and Latency are the median (the upper of two middles) and
	// maximum of the playing samples
	// that knew them (zero without any); PDTSamples and LatencySamples
	// count those.
	PDTLatencyMedian, PDTLatencyMax float64
	LatencyMedian, LatencyMax       float64
	PDTSamples, LatencySamples      int
	// MinBufferAhead is the least buffer ahead of a playing sample.
	MinBufferAhead float64
}

// ErrNoSamples is Summarize's answer to no samples.
var ErrNoSamples = errors.New("no player samples")

// Summarize sums up samples, oldest first, as SamplePlayer returns them.
func Summarize(samples []PlayerSample) (PlayerSummary, error) {
	if len(samples) == 0 {
		return PlayerSummary{}, ErrNoSamples
	}
	first, last := samples[0], samples[len(samples)-1]
	sum := PlayerSummary{
		Samples:       len(samples),
		Span:          last.At().Sub(first.At()),
		Played:        last.CurrentTime - first.CurrentTime,
		Stalls:        last.Stalls - first.Stalls,
		EmptyStalls:   last.EmptyStalls - first.EmptyStalls,
		Stalled:       last.StalledSeconds - first.StalledSeconds,
		BufferStalls:  last.BufferStalls - first.BufferStalls,
		Switches:      last.Switches - first.Switches,
		FatalErrors:   last.FatalErrors - first.FatalErrors,
		Starts:        last.Starts - first.Starts,
		DroppedFrames: last.DroppedFrames - first.DroppedFrames,
	}
	var pdt, lat []float64
	playing := 0
	sum.LL = true
	for _, s := range samples {
		if s.State != "playing" {
			continue
		}
		if playing == 0 || s.BufferAhead < sum.MinBufferAhead {
			sum.MinBufferAhead = s.BufferAhead
		}
		playing++
		sum.LL = sum.LL && s.LL
		if s.Height != 0 && !slices.Contains(sum.Heights, s.Height) {
			sum.Heights = append(sum.Heights, s.Height)
		}
		if s.PDTLatency != nil {
			pdt = append(pdt, *s.PDTLatency)
		}
		if s.Latency != nil {
			lat = append(lat, *s.Latency)
		}
	}
	sum.LL = sum.LL && playing > 0
	sum.PDTSamples, sum.LatencySamples = len(pdt), len(lat)
	sum.PDTLatencyMedian, sum.PDTLatencyMax = medianMax(pdt)
	sum.LatencyMedian, sum.LatencyMax = medianMax(lat)
	return sum, nil
}

func medianMax(v []float64) (median, maximum float64) {
	if len(v) == 0 {
		return 0, 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2], v[len(v)-1]
}
