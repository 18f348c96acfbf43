package main

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

// The live timing tests publish to one server from publishers whose
// timestamps are not a clean frame grid, and check that the HLS ladder
// has: every segment's video PTS and DTS strictly increasing, one frame
// per 1/fps of EXTINF, keyframes exactly KeyframeInterval apart, a target
// duration that never changes, the publisher's frame rate in the admin
// API, and no "non-strictly-monotonic PTS" from x264. The bug they
// reproduce: GStreamer's flvmux with x264enc bframes=2 gave segments whose
// PTS repeated or went backwards, and hls.js in Chromium died with a fatal
// media error.

// timingConfig is the ladder of the timing tests: two small renditions,
// so that hls.js has a level to switch to and six streams transcode at
// once on 2 cores, and short segments and GOPs, so that a 14 s publish
// has seven segments and fourteen keyframes per rendition.
func timingConfig() pipeline.Config {
	return pipeline.Config{
		SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second, PlaylistWindow: 6,
		Ladder: []pipeline.Rendition{
			{Name: "144p", Width: 256, Height: 144, VideoBitrate: 200_000, MaxRate: 214_000, BufSize: 300_000, AudioBitrate: 64_000},
			{Name: "240p", Width: 426, Height: 240, VideoBitrate: 400_000, MaxRate: 428_000, BufSize: 600_000, AudioBitrate: 64_000},
		},
	}.WithDefaults()
}

// publishWidth and publishHeight are the publishers' picture: the
// ladder's top rendition, so that no rendition is left out as taller than
// the source.
const publishWidth, publishHeight = 426, 240

// ticksPerSecond is MPEG-TS's clock: the segments' PTS and DTS.
const ticksPerSecond = 90_000

// timingCase is one publisher: fps is the frame rate it publishes, the
// rate every check expects of the ladder.
type timingCase struct {
	name    string
	fps     int
	seconds int
	// publisher prepares the publish of seconds of video at fps to key,
	// on the test's goroutine.
	publisher func(t *testing.T, s *server, key string, c timingCase) publishRun
	// late publishers start when the short ones before them have ended,
	// so that no more than four streams transcode at once on 2 cores.
	late bool
	// player: hls.js plays the stream in Chromium too, switching levels.
	player bool
}

// timedStream is a publish under test and its observer.
type timedStream struct {
	name    string
	seconds int
	pub     *livePublish
	obs     *observer
}

// TestLiveTiming publishes from GStreamer (x264enc with B-frames, the bug
// report's pipeline), from the ffmpeg CLI at 25, 30, 50 and 60 fps, and
// from a go-rtmp client sending an FLV whose timestamps jitter by ±1 ms,
// repeat and step back, to one server, and checks every segment of every
// rendition, fetched while they publish and after they end. hls.js plays
// the GStreamer stream in Chromium, switching levels. Each publisher is a
// subtest that starts publishing at once (or, for the late ones, when the
// first short ones end) and checks after t.Parallel, when its stream has
// ended; the last subtest checks the server's log once all have.
func TestLiveTiming(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	// Registered first, so it runs last: after the server has stopped and
	// every publisher, observer and browser has ended.
	t.Cleanup(testenv.CheckGoroutines(t))
	cfg := timingConfig()
	s := startServerWith(t, func(c *Config) {
		c.Transcode = cfg
		// The checks read every TS packet's timestamps (the frame clock is
		// the same whatever the container).
		c.HLS.Format = "ts"
		// Ended streams stay until every subtest has read them.
		c.Serve.Grace = 2 * time.Minute
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	cases := []timingCase{
		// First, so that its FLV is encoded before the others take the CPU;
		// long enough for hls.js to play 15 s of it, since its repeated
		// and backward timestamps are what made Chromium's decoder fail
		// every time, where GStreamer's only did under load.
		{name: "jittery_flv_30fps", fps: 30, seconds: 30, publisher: jitteryPublisher, player: true},
		{name: "gstreamer_x264_bframes_30fps", fps: 30, seconds: 40, publisher: gstreamerPublisher, player: true},
		{name: "ffmpeg_bframes_25fps", fps: 25, seconds: 14, publisher: ffmpegPublisher},
		{name: "ffmpeg_bframes_30fps", fps: 30, seconds: 14, publisher: ffmpegPublisher},
		{name: "ffmpeg_bframes_50fps", fps: 50, seconds: 14, publisher: ffmpegPublisher, late: true},
		{name: "ffmpeg_bframes_60fps", fps: 60, seconds: 14, publisher: ffmpegPublisher, late: true},
	}
	// LIVESTREAM_TIMING_SOAK=10m makes every publish that long, played by
	// hls.js: a soak run by hand, one or two publishers at a time on 2
	// cores (go test -run 'TestLiveTiming/gstreamer' -timeout 30m).
	if soak := os.Getenv("LIVESTREAM_TIMING_SOAK"); soak != "" {
		d, err := time.ParseDuration(soak)
		if err != nil {
			t.Fatalf("LIVESTREAM_TIMING_SOAK: %v", err)
		}
		for i := range cases {
			cases[i].seconds, cases[i].player, cases[i].late = int(d.Seconds()), true, false
		}
	}
	var streams []*timedStream
	var short []<-chan struct{} // the short publishes the late ones wait for
	for _, c := range cases {
		k := s.createChannel(c.name)
		t.Run(c.name, func(t *testing.T) {
			// Start publishing and observing before t.Parallel, so that the
			// publishers run at once whatever -parallel says.
			run := c.publisher(t, s, k.StreamKey, c)
			var after []<-chan struct{}
			if c.late {
				after = slices.Clone(short)
			}
			pctx, stop := context.WithCancel(ctx)
			// A publisher that takes 40 s longer than its stream is stuck.
			pub := launch(pctx, after, time.Duration(c.seconds)*time.Second+40*time.Second, run)
			obs := startObserver(pctx, s, k.PlaybackID, t.TempDir(), rungNames(cfg), pub)
			t.Cleanup(func() { stop(); <-pub.done; <-obs.done })
			if !c.late && !c.player {
				short = append(short, pub.done)
			}
			streams = append(streams, &timedStream{name: c.name, seconds: c.seconds, pub: pub, obs: obs})
			var play *hlsjsPlay
			if c.player {
				play = startHLSJSPage(t, s, k.PlaybackID, c)
			}
			t.Parallel()
			if play != nil {
				t.Run("hlsjs_chromium", play.check)
			}
			t.Run("segments", func(t *testing.T) {
				log, err := obs.wait(time.Duration(c.seconds)*time.Second + 3*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				checkTimedStream(t, cfg, c, pub, log)
			})
		})
	}

	t.Run("no_nonmonotonic_pts_warning", func(t *testing.T) {
		streams := slices.Clone(streams)
		t.Parallel()
		for _, st := range streams {
			if _, err := st.obs.wait(time.Duration(st.seconds)*time.Second + 3*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		checkNoPTSWarnings(t, s.logs.String(), streams)
	})
}

func rungNames(cfg pipeline.Config) []string {
	var names []string
	for _, r := range cfg.Ladder {
		names = append(names, r.Name)
	}
	return names
}
