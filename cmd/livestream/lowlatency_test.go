package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

// llLadder is a small three-rung ladder that two cores run in real time
// beside a browser, a second player and the other tests.
func llLadder() pipeline.Config {
	return pipeline.Config{
		SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second, PlaylistWindow: 10,
		Ladder: []pipeline.Rendition{
			{Name: "144p", Width: 256, Height: 144, VideoBitrate: 200_000, MaxRate: 220_000, BufSize: 400_000, AudioBitrate: 64_000},
			{Name: "180p", Width: 320, Height: 180, VideoBitrate: 300_000, MaxRate: 330_000, BufSize: 600_000, AudioBitrate: 64_000},
			{Name: "240p", Width: 426, Height: 240, VideoBitrate: 400_000, MaxRate: 440_000, BufSize: 800_000, AudioBitrate: 64_000},
		},
	}.WithDefaults()
}

// maxStalled is how long hls.js may stall in all with media buffered
// ahead: Chromium's software decoder on a busy machine, or a new
// rendition's decoder starting. A stall with the buffer empty is the
// stream's fault and fails.
const maxStalled = 1.0

// playLowLatency opens the watch page at base for pid and checks, for at
// least playSeconds, that hls.js plays it in low-latency mode (parts,
// blocking reload) without running out of media, switching through every
// rendition; it returns the summary of the steady part.
func playLowLatency(t *testing.T, base, pid string, playSeconds float64) browser.PlayerSummary {
	t.Helper()
	chromium := testenv.NeedTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	page := browser.Start(ctx, t, chromium)
	var netMu sync.Mutex
	var netLog []string
	sent := map[network.RequestID]time.Time{}
	chromedp.Listen(page, func(ev any) {
		netMu.Lock()
		defer netMu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			sent[e.RequestID] = time.Now()
			netLog = append(netLog, fmt.Sprintf("%s -> %s", time.Now().Format("15:04:05.000"), strings.TrimPrefix(e.Request.URL, base)))
		case *network.EventResponseReceived:
			netLog = append(netLog, fmt.Sprintf("%s <- %d %s (%v)", time.Now().Format("15:04:05.000"), e.Response.Status, strings.TrimPrefix(e.Response.URL, base), time.Since(sent[e.RequestID]).Round(time.Millisecond)))
		}
	})
	defer func() {
		if t.Failed() {
			netMu.Lock()
			t.Logf("requests:\n%s", strings.Join(netLog, "\n"))
			netMu.Unlock()
		}
	}()
	if err := chromedp.Do(page, chromedp.Navigate(base+"/watch/"+pid)); err != nil {
		t.Fatal(err)
	}
	s, err := browser.WaitPlayer(page, 60*time.Second, func(s browser.PlayerSample) bool {
		return s.LL && s.PDTLatency != nil && s.CurrentTime > 1
	})
	if err != nil {
		t.Fatalf("waiting for low-latency playback: %v", err)
	}
	if !s.CanBlockReload || s.PartTarget != 0.5 || s.PartHoldBack != 1.5 || s.Levels != 3 {
		t.Errorf("the player read blocking reload %v, part target %g, part hold back %g, %d levels", s.CanBlockReload, s.PartTarget, s.PartHoldBack, s.Levels)
	}
	started := time.Now()
	steady, err := browser.SamplePlayer(page, 200*time.Millisecond, time.Duration(playSeconds/2*float64(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := browser.Summarize(steady)
	t.Logf("steady: %+v", sum)
	// Through every rendition, and back to where it was.
	var order []int
	for i := range s.Levels {
		order = append(order, (s.Level+1+i)%s.Levels)
	}
	switching, err := browser.SwitchThrough(page, order, browser.SwitchLoad, 3*time.Second, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rest := time.Duration(playSeconds*float64(time.Second)) - time.Since(started); rest > 0 {
		more, err := browser.SamplePlayer(page, 200*time.Millisecond, rest)
		if err != nil {
			t.Fatal(err)
		}
		switching = append(switching, more...)
	}
	all, _ := browser.Summarize(append(steady, switching...))
	t.Logf("whole run: %+v", all)
	if !all.LL || all.Played < playSeconds-2 || all.EmptyStalls != 0 || all.Stalled > maxStalled || all.FatalErrors != 0 {
		for _, x := range append(steady, switching...) {
			lat := 0.0
			if x.PDTLatency != nil {
				lat = *x.PDTLatency
			}
			t.Logf("at %s level %d (loading %d) t=%.2f latency %.2f buffer %.2f rate %.2f stalls %d",
				x.At().Format("15:04:05.000"), x.Level, x.LoadLevel, x.CurrentTime, lat, x.BufferAhead, x.PlaybackRate, x.Stalls)
		}
		t.Errorf("low-latency playback: LL %v, played %.1f s, %d stalls with the buffer empty, %.2f s stalled, %d fatal errors",
			all.LL, all.Played, all.EmptyStalls, all.Stalled, all.FatalErrors)
	}
	if len(all.Heights) != 3 {
		t.Errorf("played heights %v, want all three renditions", all.Heights)
	}
	// Not a latency benchmark (bench/latency.sh is): a player that fell
	// back to whole segments would be three of them, 6 s, behind.
	if sum.PDTLatencyMedian <= 0 || sum.PDTLatencyMedian > 5 {
		t.Errorf("latency since ingest %.2f s (median): not low latency", sum.PDTLatencyMedian)
	}
	return sum
}

// playNonLL plays url with GStreamer's playbin (hlsdemux: whole segments,
// no LL-HLS) for seconds, and fails on any error it reports.
func playNonLL(ctx context.Context, t *testing.T, url string, seconds int) <-chan error {
	gst := testenv.NeedTool(t, "gst-launch-1.0")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, gst, "-q", "playbin", "uri="+url,
			"video-sink=fakesink sync=true", "audio-sink=fakesink sync=true")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		switch {
		case strings.Contains(out.String(), "ERROR"):
			done <- fmt.Errorf("playbin: %s", out.String())
		case err != nil && ctx.Err() == nil:
			done <- fmt.Errorf("playbin exited after %v: %v\n%s", time.Since(start), err, out.String())
		default:
			done <- nil // still playing when its time was up
		}
	}()
	return done
}

var (
	partTag  = regexp.MustCompile(`(?m)^#EXT-X-PART:DURATION=[0-9.]+,URI="(\d+)\.(\d+)\.m4s"`)
	hintTag  = regexp.MustCompile(`(?m)^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"`)
	reportRe = regexp.MustCompile(`(?m)^#EXT-X-RENDITION-REPORT:URI="\.\./(\w+)/index\.m3u8",LAST-MSN=(\d+),LAST-PART=(\d+)`)
)

// checkBlockingReload asks base's 180p playlist of pid for its next part
// as a player in low-latency mode does, and checks RFC 8216bis' answers:
// held until the part is listed, the preload hint's part served once it
// exists, a request too far ahead refused, a delta update, and a report
// of each other rendition.
func checkBlockingReload(t *testing.T, base, pid string) {
	t.Helper()
	pl := base + "/hls/" + pid + "/180p/index.m3u8"
	code, body := httpGet(pl)
	if code != http.StatusOK {
		t.Fatalf("GET 180p playlist: %d", code)
	}
	hint := hintTag.FindStringSubmatch(body)
	if hint == nil {
		t.Fatalf("no preload hint:\n%s", body)
	}
	msn, part := hint[1], hint[2]
	// The hinted part, asked for before it exists, is answered when it does.
	partDone := make(chan int, 1)
	go func() {
		code, _ := httpGet(base + "/hls/" + pid + "/180p/" + msn + "." + part + ".m4s")
		partDone <- code
	}()
	asked := time.Now()
	code, body = httpGet(pl + "?_HLS_msn=" + msn + "&_HLS_part=" + part)
	waited := time.Since(asked)
	if code != http.StatusOK {
		t.Fatalf("blocking reload for %s.%s: %d %s", msn, part, code, body)
	}
	found := false
	for _, m := range partTag.FindAllStringSubmatch(body, -1) {
		found = found || m[1] == msn && m[2] == part
	}
	if !found {
		n, _ := strconv.ParseInt(msn, 10, 64)
		// Part index past a segment's last: the next segment's first.
		found = strings.Contains(body, strconv.FormatInt(n+1, 10)+".0.m4s")
	}
	if !found {
		t.Errorf("the blocking reload for %s.%s (answered after %v) does not list it:\n%s", msn, part, waited, body)
	}
	if waited > 3*time.Second {
		t.Errorf("the blocking reload waited %v for a part of 0.5 s", waited)
	}
	if c := <-partDone; c != http.StatusOK {
		t.Errorf("GET the hinted part %s.%s: %d", msn, part, c)
	}
	reports := map[string]bool{}
	for _, m := range reportRe.FindAllStringSubmatch(body, -1) {
		reports[m[1]] = true
	}
	if len(reports) != 2 || !reports["144p"] || !reports["240p"] {
		t.Errorf("rendition reports for %v, want 144p and 240p:\n%s", reports, body)
	}
	n, _ := strconv.ParseInt(msn, 10, 64)
	if code, _ := httpGet(pl + "?_HLS_msn=" + strconv.FormatInt(n+10, 10) + "&_HLS_part=0"); code != http.StatusBadRequest {
		t.Errorf("a blocking reload 10 segments ahead: %d, want 400", code)
	}
	code, delta := httpGet(pl + "?_HLS_msn=" + msn + "&_HLS_part=" + part + "&_HLS_skip=YES")
	if code != http.StatusOK || !strings.Contains(delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=") {
		t.Errorf("delta update: %d\n%s", code, delta)
	}
}

// TestLowLatencyServe: a 720p30-like publish from ffmpeg plays in hls.js's
// low-latency mode on the watch page for 30 s, through every rendition,
// while GStreamer's playbin plays the same master without LL-HLS, and the
// playlists answer blocking reloads as RFC 8216bis says. A second
// publisher, GStreamer's rtmp2sink, gets the same LL-HLS, which ffprobe
// (FFmpeg's HLS demuxer, no LL-HLS either) reads.
func TestLowLatencyServe(t *testing.T) {
	s := startServerWith(t, func(c *Config) { c.Transcode = llLadder() })
	base := "http://" + s.cfg.Serve.HTTPAddr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	k := s.createChannel("low latency")
	pub := launch(ctx, nil, 2*time.Minute, ffmpegPublisher(t, s, k.StreamKey, timingCase{fps: 30, seconds: 60}))
	defer func() { cancel(); <-pub.done }()
	testenv.WaitFor(t, 30*time.Second, func() bool {
		c, b := s.tryGet("/hls/" + k.PlaybackID + "/180p/index.m3u8")
		return c == http.StatusOK && strings.Count(string(b), "#EXTINF") >= 2
	}, "two segments")
	checkBlockingReload(t, base, k.PlaybackID)
	nonLL := playNonLL(ctx, t, base+"/hls/"+k.PlaybackID+"/live.m3u8", 25)
	playLowLatency(t, base, k.PlaybackID, 30)
	if err := <-nonLL; err != nil {
		t.Error(err)
	}
}

// TestLowLatencyEnd: a viewer of a stream that ends sees it to its last
// frame and then ended. hls.js counts a segment whose parts it has
// buffered as loaded: told the segment is complete by an ended playlist
// before it fetched the last parts, it never fetched them and held the
// last frame it had, forever; and a part of audio past the last picture
// kept it from ending the buffer.
func TestLowLatencyEnd(t *testing.T) {
	s := startServerWith(t, func(c *Config) { c.Transcode = llLadder() })
	base := "http://" + s.cfg.Serve.HTTPAddr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k := s.createChannel("ending")
	const seconds = 10
	pub := launch(ctx, nil, time.Minute, ffmpegPublisher(t, s, k.StreamKey, timingCase{fps: 30, seconds: seconds}))
	defer func() { cancel(); <-pub.done }()
	testenv.WaitFor(t, 30*time.Second, func() bool {
		c, b := s.tryGet("/hls/" + k.PlaybackID + "/240p/index.m3u8")
		return c == http.StatusOK && strings.Contains(string(b), "#EXT-X-PART:")
	}, "a part")
	page := browser.Start(ctx, t, testenv.NeedTool(t, "chromium"))
	if err := chromedp.Do(page, chromedp.Navigate(base+"/watch/"+k.PlaybackID)); err != nil {
		t.Fatal(err)
	}
	if _, err := browser.WaitPlayer(page, 30*time.Second, func(s browser.PlayerSample) bool { return s.LL && s.CurrentTime > 0.5 }); err != nil {
		t.Fatalf("waiting for low-latency playback: %v", err)
	}
	<-pub.done
	if pub.err != nil {
		t.Fatalf("publisher: %v\n%s", pub.err, pub.output)
	}
	// A second reader, FFmpeg's HLS demuxer (no LL-HLS), finds the ended
	// rendition whole: every picture, and no audio past the last one (the
	// part of audio alone that kept hls.js's buffer from ending).
	rendition := base + "/hls/" + k.PlaybackID + "/240p/index.m3u8"
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, b := s.tryGet("/hls/" + k.PlaybackID + "/240p/index.m3u8")
		return strings.Contains(string(b), "#EXT-X-ENDLIST")
	}, "the ended playlist")
	video, audio := testenv.ProbePackets(t, rendition, "v:0"), testenv.ProbePackets(t, rendition, "a:0")
	if len(video) < 30*seconds-1 || len(audio) == 0 {
		t.Fatalf("ffprobe read %d pictures and %d audio frames of a %d s stream at 30 fps", len(video), len(audio), seconds)
	}
	videoEnd := packetEnd(t, video[len(video)-1])
	for _, a := range audio {
		if start := packetEnd(t, a) - parseSeconds(t, a.DurationTime); start >= videoEnd {
			t.Errorf("audio at %.3f s, after the last picture ends (%.3f s)", start, videoEnd)
			break
		}
	}

	var last browser.PlayerSample
	end, err := browser.WaitPlayer(page, 15*time.Second, func(s browser.PlayerSample) bool {
		if s.State != "ended" {
			last = s
		}
		return s.State == "ended"
	})
	if err != nil {
		t.Fatalf("the watch page did not show the stream ended: %v", err)
	}
	// hls.js's timeline counts from the first segment: the last frame
	// starts a frame before the stream's duration.
	if last.CurrentTime < seconds-0.3 {
		t.Errorf("played to %.2f s of a %d s stream before it ended (%+v)", last.CurrentTime, seconds, end)
	}
}

// packetEnd is where ffprobe's packet p ends, in seconds.
func packetEnd(t *testing.T, p testenv.ProbePacket) float64 {
	t.Helper()
	return parseSeconds(t, p.PTSTime) + parseSeconds(t, p.DurationTime)
}

func parseSeconds(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("ffprobe time %q: %v", s, err)
	}
	return v
}
