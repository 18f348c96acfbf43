package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/registry"
)

// TestLatencyBenchmark measures glass-to-glass latency as a viewer gets
// it: a 720p30 publish (ffmpeg, x264 with B-frames, as OBS sends) through
// the default ladder, played by hls.js on the watch page in low-latency
// mode; every 200 ms the page's playing frame's EXT-X-PROGRAM-DATE-TIME
// (the wall clock at which that frame arrived at ingest) is subtracted
// from the wall clock (the same machine's). It also reads the server's
// part latency (a part's last frame in → the part listed). Set
// LIVESTREAM_LATENCY_BENCH=single or cluster (origin in front of two
// servers); bench/latency.sh runs both and prints the medians of runs.
// It is a benchmark, not a test: it asserts nothing about the figures.
func TestLatencyBenchmark(t *testing.T) {
	mode := os.Getenv("LIVESTREAM_LATENCY_BENCH")
	if mode == "" {
		t.Skip("a benchmark: bench/latency.sh runs it")
	}
	seconds, _ := strconv.Atoi(os.Getenv("LATENCY_SECONDS"))
	if seconds == 0 {
		seconds = 60
	}
	// ts is the reference: MPEG-TS segments, no parts, as before LL-HLS.
	format := cmp.Or(os.Getenv("LATENCY_FORMAT"), "fmp4")
	if format != "fmp4" && format != "ts" {
		t.Fatalf("LATENCY_FORMAT=%q: want fmp4 or ts", format)
	}
	ll := format == "fmp4"
	// The publisher's x264 and the player's decoding would be on other
	// machines; here they share the server's 2 cores. LATENCY_CLIENTS_NICE
	// (default 10; 0: not) lowers their priority so that they take what
	// the server leaves, as they would elsewhere, rather than delay it.
	nice := cmp.Or(os.Getenv("LATENCY_CLIENTS_NICE"), "10")
	if _, err := strconv.Atoi(nice); err != nil {
		t.Fatalf("LATENCY_CLIENTS_NICE=%q: want a niceness", nice)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second+3*time.Minute)
	defer cancel()
	var base, pid, rtmp string
	switch mode {
	case "single":
		// The default ladder, as a user runs it.
		s := startServerWith(t, func(c *Config) {
			c.Transcode = pipeline.Config{}.WithDefaults()
			c.HLS.Format = format
		})
		k := s.createChannel("latency")
		base, pid, rtmp = "http://"+s.cfg.Serve.HTTPAddr, k.PlaybackID, s.cfg.Serve.RTMPAddr
		pub := launch(ctx, nil, time.Duration(seconds+120)*time.Second, publish720p(t, rtmp, k.StreamKey, seconds+60, nice))
		defer func() { cancel(); <-pub.done }()
		defer func() {
			_, body := s.admin("GET", "/api/streams/"+pid)
			reportPartLatency(t, body)
		}()
	case "cluster":
		redisURL := "redis://" + testenv.StartRedis(t) + "/0"
		dir := t.TempDir()
		bin := filepath.Join(dir, "livestream")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		conf := filepath.Join(dir, "livestream.yaml")
		if err := os.WriteFile(conf, []byte("hls:\n  format: "+format+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"server-a", "server-b"} {
			r, in := testenv.FreeAddr(t), testenv.FreeAddr(t)
			if rtmp == "" {
				rtmp = r
			}
			startRole(t, bin, redisURL, id, in, "server", "--config", conf, "--rtmp-addr", r, "--internal-http-addr", in,
				"--advertise-addr", in, "--server-id", id, "--data-dir", filepath.Join(dir, id), "--record=false", "--log-format", "json")
		}
		originAddr := testenv.FreeAddr(t)
		startRole(t, bin, redisURL, "origin", originAddr, "origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")
		base = "http://" + originAddr
		reg, err := registry.OpenRedis(ctx, redisURL)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		testenv.WaitFor(t, 10*time.Second, func() bool { s, err := reg.Servers(ctx); return err == nil && len(s) == 2 }, "both servers")
		k := keysJSON(t, "create", "latency", "--json", "--redis-url", redisURL)
		pid = k.PlaybackID
		pub := launch(ctx, nil, time.Duration(seconds+120)*time.Second, publish720p(t, rtmp, k.StreamKey, seconds+60, nice))
		defer func() { cancel(); <-pub.done }()
	default:
		t.Fatalf("LIVESTREAM_LATENCY_BENCH=%q: want single or cluster", mode)
	}
	testenv.WaitFor(t, 60*time.Second, func() bool {
		c, body := httpGet(base + "/hls/" + pid + "/720p/index.m3u8")
		return c == http.StatusOK && strings.Count(body, "#EXTINF") >= 2
	}, "two 720p segments")

	chromium := testenv.NeedTool(t, "chromium")
	if nice != "0" {
		// browser.Start runs the path it is given with chromedp's flags.
		wrapper := filepath.Join(t.TempDir(), "chromium")
		script := "#!/bin/sh\nexec nice -n " + nice + " " + chromium + " \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		chromium = wrapper
	}
	page := browser.Start(ctx, t, chromium)
	if err := chromedp.Do(page, chromedp.Navigate(base+"/watch/"+pid)); err != nil {
		t.Fatal(err)
	}
	if _, err := browser.WaitPlayer(page, 90*time.Second, func(s browser.PlayerSample) bool {
		return s.LL == ll && (s.PDTLatency != nil || !ll) && s.Latency != nil && s.CurrentTime > 3
	}); err != nil {
		t.Fatalf("waiting for playback (low latency %v): %v", ll, err)
	}
	samples, err := browser.SamplePlayer(page, 200*time.Millisecond, time.Duration(seconds)*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Glass to glass from the frames' dates (fMP4 playlists carry them),
	// and hls.js's own estimate (from the playlist's live edge), the one
	// a TS stream has.
	var lat, est []float64
	heights := map[int]int{}
	for _, s := range samples {
		if s.PDTLatency != nil {
			lat = append(lat, *s.PDTLatency)
		}
		if s.Latency != nil {
			est = append(est, *s.Latency)
		}
		heights[s.Height]++
	}
	sum, _ := browser.Summarize(samples)
	if len(est) == 0 || ll && len(lat) == 0 {
		t.Fatal("no latency samples")
	}
	q := func(v []float64, p float64) float64 {
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	// One line for bench/latency.sh to read.
	fmt.Printf("LATENCY mode=%s format=%s nice=%s samples=%d p50=%.3f p99=%.3f hlsjs_p50=%.3f hlsjs_p99=%.3f stalls=%d stalled=%.2f heights=%v\n",
		mode, format, nice, len(samples), q(lat, 0.5), q(lat, 0.99), q(est, 0.5), q(est, 0.99), sum.EmptyStalls, sum.Stalled, heights)
}

// publish720p publishes a 720p30 test pattern with a tone, as OBS would
// (x264 with 2 B-frames, LATENCY_PUBLISH_BFRAMES: the decoder then holds
// each picture 2 frames to reorder them), at niceness nice.
func publish720p(t *testing.T, rtmp, key string, seconds int, nice string) publishRun {
	return runCommand("nice", "-n", nice, testenv.NeedTool(t, "ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-bf", cmp.Or(os.Getenv("LATENCY_PUBLISH_BFRAMES"), "2"), "-g", "60", "-b:v", "3500k",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-f", "flv", "rtmp://"+rtmp+"/stream/"+key)
}

type latencySummary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_seconds"`
	P99   float64 `json:"p99_seconds"`
}

// reportPartLatency prints the part latency the admin API gives a stream.
func reportPartLatency(t *testing.T, body []byte) {
	var info struct {
		PartLatency    latencySummary `json:"part_latency"`
		SegmentLatency latencySummary `json:"segment_latency"`
	}
	_ = json.Unmarshal(body, &info)
	fmt.Printf("PARTLATENCY parts=%d p50=%.3f p99=%.3f segments=%d seg_p50=%.3f seg_p99=%.3f\n",
		info.PartLatency.Count, info.PartLatency.P50, info.PartLatency.P99,
		info.SegmentLatency.Count, info.SegmentLatency.P50, info.SegmentLatency.P99)
}
