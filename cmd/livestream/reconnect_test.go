package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

// reconnectServer is a server with the reconnect window, 1 s segments
// (players start sooner) and one small rendition, relaying every
// ?youtube= publish to nginx-rtmp.
func reconnectServer(t *testing.T, window time.Duration) (*server, *nginxrtmp.Server) {
	t.Helper()
	ng, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ng.Kill)
	s := startServerWith(t, func(c *Config) {
		c.Transcode = pipeline.Config{
			SegmentDuration: time.Second, KeyframeInterval: time.Second, PlaylistWindow: 6,
			Ladder: []pipeline.Rendition{{Name: "240p", Width: 426, Height: 240, VideoBitrate: 400_000, MaxRate: 440_000, BufSize: 800_000, AudioBitrate: 64_000}},
		}.WithDefaults()
		c.Serve.ReconnectWindow = &window
		c.Serve.RelayYouTubeURL = "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	})
	return s, ng
}

// streamState is what the admin API says of a stream's publisher.
func (s *server) streamState(pid string) (publisher string, reconnects int64, slate int64) {
	s.t.Helper()
	code, body := s.admin("GET", "/api/streams/"+pid)
	if code != 200 {
		return "", 0, 0
	}
	var info struct {
		Publisher  string `json:"publisher"`
		Reconnects int64  `json:"reconnects"`
		Timing     struct {
			SlateFrames int64 `json:"slate_frames"`
		} `json:"timing"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		s.t.Fatalf("GET /api/streams/%s: %v: %s", pid, err, body)
	}
	return info.Publisher, info.Reconnects, info.Timing.SlateFrames
}

// TestPublisherBlipKeepsViewersWatching: an ffmpeg and a GStreamer
// publisher are each killed mid-stream (no unpublish: a crash, a lost
// network) and publish again 3 s later. Viewers see one stream: hls.js in
// Chromium and GStreamer's playbin play through it without an error, hls.js
// stalls for at most a second, the playlist's segment numbers run on
// without a gap, a discontinuity or an end until the second publish ends
// cleanly; the stream is recorded as one session, and the relay to
// nginx-rtmp stays one publish there, whose recording spans both.
func TestPublisherBlipKeepsViewersWatching(t *testing.T) {
	gst := testenv.NeedTool(t, "gst-launch-1.0")
	s, ng := reconnectServer(t, 20*time.Second)
	for _, kind := range []string{"ffmpeg", "gstreamer"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			k := s.createChannel("blip " + kind)
			const ytKey = "yt-key-for-the-blip"
			key := k.StreamKey + "?youtube=" + ytKey + kind
			publisher := func(seconds int) publishRun {
				c := timingCase{fps: 30, seconds: seconds}
				if kind == "ffmpeg" {
					return ffmpegPublisher(t, s, key, c)
				}
				return gstreamerPublisher(t, s, key, c)
			}
			const again = 12 // seconds of the second publish
			watch := watchLive(s, "/hls/"+k.PlaybackID+"/240p/index.m3u8")
			defer watch.close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			firstCtx, kill := context.WithCancel(ctx)
			first := launch(firstCtx, nil, time.Minute, publisher(60))

			// Viewers: hls.js, and playbin until the playlist ends.
			page := startHLSJSPage(t, s, k.PlaybackID, timingCase{fps: 30, seconds: 40})
			play := exec.CommandContext(ctx, gst, "-q", "playbin", "uri=http://"+s.cfg.Serve.HTTPAddr+"/hls/"+k.PlaybackID+"/live.m3u8",
				"video-sink=fakesink sync=true", "audio-sink=fakesink sync=true")
			var playOut strings.Builder
			play.Stdout, play.Stderr = &playOut, &playOut
			testenv.WaitFor(t, 30*time.Second, func() bool { return watch.last() > 0 }, "the first segment")
			if err := play.Start(); err != nil {
				t.Fatal(err)
			}
			played := func(sec float64) func() bool {
				return func() bool {
					v, err := chromedp.Run(page.page, chromedp.Evaluate[float64](`window.rec ? rec.played : 0`))
					return err == nil && v >= sec
				}
			}
			testenv.WaitFor(t, 40*time.Second, played(3), "hls.js playing 3 s")

			kill() // SIGKILL: the publisher never says goodbye
			<-first.done
			killedAt := time.Now()
			testenv.WaitFor(t, 10*time.Second, func() bool { p, _, _ := s.streamState(k.PlaybackID); return p == "away" }, "the stream waiting for its publisher")
			// The creator's encoder comes back 3 s later (the scenario's
			// pause, not a wait for an event).
			time.Sleep(time.Until(killedAt.Add(3 * time.Second)))
			if watch.isEnded() {
				t.Fatal("the playlist ended while the publisher was away")
			}
			second := launch(ctx, nil, time.Minute, publisher(again))
			testenv.WaitFor(t, 20*time.Second, func() bool { p, n, _ := s.streamState(k.PlaybackID); return p == "connected" && n == 1 }, "the publisher back")
			_, _, slate := s.streamState(k.PlaybackID)
			// The relay to nginx-rtmp carries the second publish on the
			// same connection.
			testenv.WaitFor(t, 10*time.Second, func() bool {
				st := s.relayStates(k.PlaybackID)
				return len(st) == 1 && st["url:youtube"].State == "live"
			}, "the relay live")
			for id, st := range s.relayStates(k.PlaybackID) {
				if st.Reconnects != 0 {
					t.Errorf("relay %s reconnected %d times", id, st.Reconnects)
				}
			}
			<-second.done
			if second.err != nil {
				t.Errorf("the second publish failed: %v\n%s", second.err, second.output)
			}
			testenv.WaitFor(t, 20*time.Second, watch.isEnded, "the playlist's end after the clean unpublish")
			watch.close()

			watch.mu.Lock()
			seqs := slices.Sorted(func(yield func(int64) bool) {
				for n := range watch.durs {
					if !yield(n) {
						return
					}
				}
			})
			disc := watch.disc
			watch.mu.Unlock()
			t.Logf("%d segments, %d slate pictures", len(seqs), slate)
			if !contiguous(seqs) {
				t.Errorf("segment numbers are not one run: %v", seqs)
			}
			if disc {
				t.Error("a playlist held EXT-X-DISCONTINUITY")
			}
			if slate < 2*30 {
				t.Errorf("%d pictures of slate for a 3 s absence", slate)
			}

			// hls.js played on through the blip.
			_, _ = chromedp.Run(page.page, chromedp.Poll[bool](`rec.ended || rec.errors.some(e => e.fatal)`,
				chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
			rec, err := chromedp.Run(page.page, chromedp.Evaluate[hlsjsRecord](`window.rec`))
			if err != nil {
				t.Fatalf("read the page's record: %v", err)
			}
			t.Logf("hls.js played %.1f s, stalled %d times for %.2f s, ended=%v, %d errors", rec.Played, rec.Stalls, rec.Stalled, rec.Ended, len(rec.Errors))
			for _, e := range rec.Errors {
				if e.Details == "bufferSeekOverHole" && strings.Contains(e.Reason, "seeking from 0 to") {
					// hls.js starting at 0 before media that starts
					// later: a seek to the first picture, not a hole.
					continue
				}
				if e.Details == "bufferStalledError" && !e.Fatal {
					// hls.js's report of a stall; how long the video
					// waited is what counts, and is checked below. With
					// LL-HLS it also reports one when playback reaches
					// the last frame of an ended stream before it has
					// marked the media's end (the note of issue 13).
					continue
				}
				if e.Fatal || e.Type == "mediaError" {
					t.Errorf("hls.js error: %s/%s fatal=%v at %.2f s: %s", e.Type, e.Details, e.Fatal, e.At, e.Reason)
				}
			}
			for _, e := range rec.VideoErrors {
				t.Errorf("<video> MediaError %d at %.2f s: %s", e.Code, e.At, e.Message)
			}
			if rec.Stalled > 1 {
				t.Errorf("hls.js stalled %.2f s in all, want at most 1 s", rec.Stalled)
			}
			if min := float64(again) + 3; rec.Played < min {
				t.Errorf("hls.js played %.1f s, want at least %.0f s (the blip and the second publish)", rec.Played, min)
			}

			// playbin reaches the end of the playlist without an error.
			playDone := make(chan error, 1)
			go func() { playDone <- play.Wait() }()
			select {
			case err := <-playDone:
				if err != nil || strings.Contains(playOut.String(), "ERROR") {
					t.Errorf("playbin: %v\n%s", err, playOut.String())
				}
			case <-time.After(30 * time.Second):
				play.Process.Signal(syscall.SIGINT)
				t.Errorf("playbin still playing 30 s after the end:\n%s", playOut.String())
			}

			// One recording session.
			if recs := s.recordings(k.ChannelID); len(recs) != 1 {
				t.Errorf("%d recordings, want one session across the blip: %+v", len(recs), recs)
			}
			// One publish at the relay's destination: nginx-rtmp records a
			// publish to one file, which a second publish would start over,
			// so the file spans both publishes and the time between.
			flv := ng.Recording(ytKey + kind)
			var span float64
			testenv.WaitFor(t, 20*time.Second, func() bool {
				out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", flv).Output()
				if err != nil {
					return false
				}
				span, _ = strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
				return span >= again+3
			}, "nginx-rtmp's recording to span both publishes")
			t.Logf("the relay's destination recorded %.1f s in one file", span)
		})
	}
}

// TestReconnectWindowExpires: a publisher that never comes back ends its
// stream (EXT-X-ENDLIST) once the window has passed, not before; the
// stream is live, "away", until then.
func TestReconnectWindowExpires(t *testing.T) {
	const window = 3 * time.Second
	s, _ := reconnectServer(t, window)
	k := s.createChannel("gone")
	watch := watchLive(s, "/hls/"+k.PlaybackID+"/240p/index.m3u8")
	defer watch.close()
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	pub := launch(ctx, nil, time.Minute, ffmpegPublisher(t, s, k.StreamKey, timingCase{fps: 30, seconds: 60}))
	testenv.WaitFor(t, 30*time.Second, func() bool { return watch.last() > 0 }, "the first segment")
	before := watch.last()
	kill()
	<-pub.done
	killed := time.Now()
	testenv.WaitFor(t, 10*time.Second, func() bool { p, _, _ := s.streamState(k.PlaybackID); return p == "away" }, "the stream waiting")
	testenv.WaitFor(t, window+10*time.Second, watch.isEnded, "the end of the playlist")
	if took := time.Since(killed); took < window {
		t.Errorf("the playlist ended %v after the publisher dropped, within the %v window", took, window)
	}
	if after := watch.last(); after < before+2 {
		t.Errorf("segments %d then %d: the slate made no segments while the window was open", before, after)
	}
}

// TestHalfOpenPublisherTakenOver: a publisher whose connection is open but
// silent (its encoder frozen: SIGSTOP) is taken over at once by a new
// publish of the same key, which continues the stream.
func TestHalfOpenPublisherTakenOver(t *testing.T) {
	s, _ := reconnectServer(t, 20*time.Second)
	k := s.createChannel("frozen")
	watch := watchLive(s, "/hls/"+k.PlaybackID+"/240p/index.m3u8")
	defer watch.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	frozen := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=426x240:rate=30", "-t", "60",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p",
		"-f", "flv", "rtmp://"+s.cfg.Serve.RTMPAddr+"/stream/"+k.StreamKey)
	if err := frozen.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { frozen.Process.Kill(); frozen.Wait() }()
	testenv.WaitFor(t, 30*time.Second, func() bool { return watch.last() > 0 }, "the first segment")
	frozen.Process.Signal(syscall.SIGSTOP)
	start := time.Now()
	next := launch(ctx, nil, time.Minute, ffmpegPublisher(t, s, k.StreamKey, timingCase{fps: 30, seconds: 6}))
	testenv.WaitFor(t, 10*time.Second, func() bool { _, n, _ := s.streamState(k.PlaybackID); return n == 1 }, "the new publish continuing the stream")
	t.Logf("taken over %v after the new publish started", time.Since(start).Round(time.Millisecond))
	<-next.done
	if next.err != nil {
		t.Errorf("the new publish failed: %v\n%s", next.err, next.output)
	}
	testenv.WaitFor(t, 20*time.Second, watch.isEnded, "the end after the new publish's clean unpublish")
	watch.close()
	watch.mu.Lock()
	defer watch.mu.Unlock()
	var seqs []int64
	for n := range watch.durs {
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	if !contiguous(seqs) || watch.disc {
		t.Errorf("segments %v (discontinuity %v): not one stream", seqs, watch.disc)
	}
}
