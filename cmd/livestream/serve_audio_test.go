package main

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
)

// publishAudio publishes seconds of a 440 Hz sine without video, encoded
// with the ffmpeg CLI's encoder enc ("aac" or "libmp3lame"), to
// stream/<key>: a radio show or a podcast.
func (s *server) publishAudio(key string, seconds float64, enc string) *publisher {
	s.t.Helper()
	p := &publisher{done: make(chan error, 1)}
	p.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.FormatFloat(seconds, 'f', -1, 64),
		"-c:a", enc, "-ac", "2", "-b:a", "128k", "-f", "flv", "rtmp://"+s.cfg.Serve.RTMPAddr+"/stream/"+key)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	s.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// TestServeAudioOnlyPublish: an audio-only publish, AAC or MP3, plays as
// audio-only HLS: the master lists one AAC variant without a resolution,
// the live playlist slides with contiguous segment numbers and gets
// ENDLIST when the publisher leaves, and ffprobe, reading the HLS URL as
// a player does, finds one AAC stream, no video, of the published length.
// Files have the video ladder's headers. The stream key shows in no HTTP
// response and no log line.
func TestServeAudioOnlyPublish(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	for _, enc := range []string{"aac", "libmp3lame"} {
		t.Run(enc, func(t *testing.T) {
			// A window that holds the whole stream, so that the playlist's
			// length is the published length.
			s := startServerWith(t, func(c *Config) { c.Transcode.PlaylistWindow = 10 })
			k := s.createChannel("radio " + enc)
			hls := "/hls/" + k.PlaybackID
			const seconds = 8
			pub := s.publishAudio(k.StreamKey, seconds, enc)
			testenv.WaitFor(t, 20*time.Second, func() bool { code, _ := s.tryGet(hls + "/live.m3u8"); return code == 200 }, "the master playlist")
			master := string(s.get(hls + "/live.m3u8"))
			if strings.Count(master, "#EXT-X-STREAM-INF:") != 1 || !strings.Contains(master, "\naudio/index.m3u8\n") ||
				!strings.Contains(master, `CODECS="mp4a.40.2"`) || strings.Contains(master, "RESOLUTION") {
				t.Errorf("master playlist:\n%s", master)
			}
			var live []byte
			testenv.WaitFor(t, 20*time.Second, func() bool {
				_, live = s.tryGet(hls + "/audio/index.m3u8")
				return len(segments(live)) >= 1
			}, "a first segment")
			if bytes.Contains(live, []byte("#EXT-X-ENDLIST")) {
				t.Errorf("the live playlist has ENDLIST while publishing:\n%s", live)
			}
			segs := segments(live)
			resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + hls + "/audio/" + segs[0] + segExt(live))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || ct != map[string]string{".ts": "video/mp2t", ".m4s": "video/mp4"}[segExt(live)] || cc != "max-age=600" {
				t.Errorf("segment: status %d, Content-Type %q, Cache-Control %q", resp.StatusCode, ct, cc)
			}

			if err := pub.wait(t, 30*time.Second); err != nil {
				t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
			}
			var pl []byte
			testenv.WaitFor(t, 10*time.Second, func() bool {
				_, pl = s.tryGet(hls + "/audio/index.m3u8")
				return bytes.Contains(pl, []byte("#EXT-X-ENDLIST"))
			}, "ENDLIST after unpublish")
			segs = segments(pl)
			if len(segs) < 4 {
				t.Errorf("%d segments of an %d s stream cut every 2 s:\n%s", len(segs), seconds, pl)
			}
			for i := 1; i < len(segs); i++ {
				if numeric(segs[i]) != numeric(segs[i-1])+1 {
					t.Errorf("segments %s and %s are not contiguous", segs[i-1], segs[i])
				}
			}

			pr := testenv.Probe(t, "http://"+s.cfg.Serve.HTTPAddr+hls+"/live.m3u8")
			if len(pr.Streams) != 1 || pr.Streams[0].CodecType != "audio" || pr.Streams[0].CodecName != "aac" || pr.Streams[0].SampleRate != "48000" {
				t.Errorf("ffprobe of the HLS URL: streams %+v, want one 48 kHz AAC stream and no video", pr.Streams)
			}
			if d, _ := strconv.ParseFloat(pr.Format.Duration, 64); math.Abs(d-seconds) > 0.3 {
				t.Errorf("the HLS stream lasts %.3f s of %d s published", d, seconds)
			}
			code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
			if code != 200 || !bytes.Contains(body, []byte(`"name":"audio"`)) || bytes.Contains(body, []byte(`"video":`)) {
				t.Errorf("GET /api/streams/%s: %d %s", k.PlaybackID, code, body)
			}

			if err := s.stop(); err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
			if strings.Contains(s.logs.String(), k.StreamKey) {
				t.Error("the stream key appears in the log")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if bytes.Contains(s.traffic.Bytes(), []byte(k.StreamKey)) {
				t.Error("the stream key appears in an HTTP response")
			}
		})
	}
}

// TestServeAudioOnlyWatchPageInChromium: hls.js on the watch page plays an
// audio-only stream in its <video> element.
func TestServeAudioOnlyWatchPageInChromium(t *testing.T) {
	chromium := testenv.NeedTool(t, "chromium")
	s := startServer(t)
	k := s.createChannel("radio in a browser")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page := browser.Start(ctx, t, chromium)
	waitPage := func(expr string, timeout time.Duration, what string) {
		t.Helper()
		_, err := chromedp.Run(page, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
		if err != nil {
			t.Fatalf("waiting for %s: %v\nserver log:\n%s", what, err, s.logs.String())
		}
	}
	s.publishAudio(k.StreamKey, 20, "aac")
	if err := chromedp.Do(page, chromedp.Navigate("http://"+s.cfg.Serve.HTTPAddr+"/watch/"+k.PlaybackID)); err != nil {
		t.Fatal(err)
	}
	waitPage(`document.getElementById('player').dataset.state === 'playing'`, 40*time.Second, "the page to play")
	waitPage(`document.getElementById('video').currentTime > 1`, 30*time.Second, "a second of live audio")
	errText, err := chromedp.Run(page, chromedp.Evaluate[string](`document.getElementById('player').dataset.error || ''`))
	if err != nil || errText != "" {
		t.Errorf("player error %q (%v)", errText, err)
	}
}
