// Command redisbench counts the Redis round trips of a cluster (issue 6):
// a real redis-server, one `livestream server` and one `livestream origin`
// process on 127.0.0.1, one real-time stream published with the ffmpeg
// CLI, and simulated hls.js viewers through the origin. Redis counts the
// commands itself (INFO commandstats), before and after each window:
//
//   - idle: the server and the origin running, nothing published;
//
//   - streaming: one stream, no viewer (the server's commands, per
//     segment);
//
//   - viewers: the same stream with -viewers viewers through the origin
//     (the origin's commands, per viewer request).
//
//     go build -o /tmp/livestream ./cmd/livestream
//     go run ./bench/cmd/redisbench -bin /tmp/livestream -runs 3
//
// bench/redis.sh does both.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/redis/go-redis/v9"
)

type options struct {
	bin, ffmpeg, config string
	monitor             string
	runs, viewers       int
	width, height       int
	idle, stream, watch time.Duration
	warmup              time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/livestream", "livestream `binary`")
	flag.StringVar(&o.ffmpeg, "ffmpeg", "ffmpeg", "ffmpeg CLI")
	flag.StringVar(&o.config, "config", "", "config `file` for the server (default: the default ladder with 2 s segments)")
	flag.StringVar(&o.monitor, "monitor", "", "write what Redis's MONITOR shows of each run to `file`.N (the commands, their keys and arguments, and which client sent them)")
	flag.IntVar(&o.runs, "runs", 3, "runs, each with a new Redis, server and origin; medians are reported")
	flag.IntVar(&o.viewers, "viewers", 50, "simulated hls.js viewers through the origin")
	flag.IntVar(&o.width, "width", 854, "published picture width")
	flag.IntVar(&o.height, "height", 480, "published picture height (480: the 360p and 480p renditions)")
	flag.DurationVar(&o.idle, "idle", 20*time.Second, "idle window")
	flag.DurationVar(&o.stream, "stream", 30*time.Second, "window streaming without viewers")
	flag.DurationVar(&o.watch, "watch", 30*time.Second, "window streaming to the viewers")
	flag.DurationVar(&o.warmup, "warmup", 4*time.Second, "viewers watch this long before their window starts")
	flag.Parse()
	if flag.NArg() > 0 || o.runs < 1 || o.viewers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	for _, tool := range []string{o.bin, o.ffmpeg, "redis-server"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "redisbench: %v\n", err)
			os.Exit(1)
		}
	}
	var results []result
	for i := range o.runs {
		r, err := run(o, i+1)
		if err != nil {
			fmt.Fprintf(os.Stderr, "redisbench: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		r.print(os.Stdout, fmt.Sprintf("run %d", i+1))
		results = append(results, r)
	}
	report(os.Stdout, o, results)
}

// snapshot is every counter the figures come from, at one moment.
type snapshot struct {
	at       time.Time
	commands commandStats
	// lastSegment is the sequence number of the newest segment of the
	// server's first rendition; -1 before the stream.
	lastSegment int64
	requests    int64 // answered viewer requests
	failed      int64
	// Of the origin's /metrics: upstream fetches and route lookups.
	fetches, lookups float64
}

// window is what happened between two snapshots.
type window struct {
	seconds  float64
	commands commandStats
	segments int64
	requests int64
	failed   int64
	fetches  float64
	lookups  float64
}

func between(a, b snapshot) window {
	return window{
		seconds:  b.at.Sub(a.at).Seconds(),
		commands: b.commands.since(a.commands, "info"),
		segments: b.lastSegment - a.lastSegment,
		requests: b.requests - a.requests,
		failed:   b.failed - a.failed,
		fetches:  b.fetches - a.fetches,
		lookups:  b.lookups - a.lookups,
	}
}

func (w window) rate() float64 { return float64(w.commands.total()) / w.seconds }

// cluster is one run's processes and where to read their counters.
type cluster struct {
	rdb                   *redis.Client
	server, origin        string // HTTP addresses
	pid                   string
	counts                *viewerCounts
	serverProc, orgProc   *proc
	redisProc, ffmpegProc *proc
}

func (c *cluster) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), lastSegment: -1}
	info, err := c.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return s, fmt.Errorf("INFO commandstats: %w", err)
	}
	if s.commands, err = parseCommandStats(info); err != nil {
		return s, err
	}
	if c.pid != "" {
		if s.lastSegment, err = c.lastSegment(ctx); err != nil {
			return s, err
		}
	}
	s.requests, s.failed = c.counts.requests(), c.counts.failed.Load()
	_, body, err := httpGet(ctx, "http://"+c.origin+"/metrics")
	if err != nil {
		return s, fmt.Errorf("origin's /metrics: %w", err)
	}
	if s.fetches, err = metricSum(string(body), "livestream_origin_fetches_total"); err != nil {
		return s, err
	}
	if s.lookups, err = metricSum(string(body), "livestream_origin_route_lookups_total"); err != nil {
		return s, err
	}
	return s, nil
}

// lastSegment reads the server's own HLS (its internal listener, which
// asks nothing of Redis) for the newest segment of its first rendition.
func (c *cluster) lastSegment(ctx context.Context) (int64, error) {
	base := "http://" + c.server + "/hls/" + c.pid + "/"
	code, body, err := httpGet(ctx, base+"live.m3u8")
	if err != nil || code != http.StatusOK {
		return 0, fmt.Errorf("server's master playlist: %d %v", code, err)
	}
	variants, err := parseMasterPlaylist(string(body))
	if err != nil {
		return 0, err
	}
	code, body, err = httpGet(ctx, base+variants[0])
	if err != nil || code != http.StatusOK {
		return 0, fmt.Errorf("server's media playlist: %d %v", code, err)
	}
	p, err := parseMediaPlaylist(string(body))
	if err != nil {
		return 0, err
	}
	return p.Sequence + int64(len(p.Segments)) - 1, nil
}

func (c *cluster) stop() {
	for _, p := range []*proc{c.ffmpegProc, c.orgProc, c.serverProc, c.redisProc} {
		if p != nil {
			p.stop()
		}
	}
	if c.rdb != nil {
		c.rdb.Close()
	}
}

func (c *cluster) alive() error {
	for _, p := range []*proc{c.redisProc, c.serverProc, c.orgProc, c.ffmpegProc} {
		if p != nil {
			if err := p.alive(); err != nil {
				return err
			}
		}
	}
	return nil
}

// result is one run's three windows.
type result struct {
	idle, stream, watch window
	segmentSeconds      float64
}

func run(o options, n int) (res result, err error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "redisbench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	c := &cluster{counts: &viewerCounts{}}
	defer c.stop()

	var redisAddr string
	if c.redisProc, redisAddr, err = startRedis(dir); err != nil {
		return res, err
	}
	redisURL := "redis://" + redisAddr + "/0"
	// One connection, opened now: a window holds no command of ours but
	// the INFO that ends it.
	c.rdb = redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 1, MinIdleConns: 1})
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return res, fmt.Errorf("ping redis: %w", err)
	}
	ch, err := createChannel(o.bin, redisURL, "redisbench")
	if err != nil {
		return res, err
	}
	if o.monitor != "" {
		stop, err := monitor(redisAddr, fmt.Sprintf("%s.%d", o.monitor, n), ch.StreamKey)
		if err != nil {
			return res, err
		}
		defer stop()
	}
	config := o.config
	if config == "" {
		if config, err = writeConfig(dir); err != nil {
			return res, err
		}
	}
	rtmp, err := freeAddr()
	if err == nil {
		c.server, err = freeAddr()
	}
	if err == nil {
		c.origin, err = freeAddr()
	}
	if err != nil {
		return res, err
	}
	c.serverProc, err = startRole(o.bin, redisURL, "server", c.server, "--config", config, "--rtmp-addr", rtmp,
		"--internal-http-addr", c.server, "--advertise-addr", c.server, "--server-id", "bench-server",
		"--data-dir", dir+"/server", "--record=false", "--log-format", "json")
	if err != nil {
		return res, err
	}
	c.serverProc.out.redact(ch.StreamKey)
	c.orgProc, err = startRole(o.bin, redisURL, "origin", c.origin, "--http-addr", c.origin,
		"--data-dir", dir+"/origin", "--record=false", "--log-format", "json")
	if err != nil {
		return res, err
	}

	// Idle: the server's heartbeats.
	if res.idle, err = c.measure(ctx, o.idle); err != nil {
		return res, err
	}

	// Streaming, no viewer yet: the route set, then refreshed.
	total := o.stream + o.watch + o.warmup + 30*time.Second
	c.ffmpegProc, err = publish(o.ffmpeg, "rtmp://"+rtmp+"/stream/"+ch.StreamKey, ch.StreamKey, o.width, o.height, total.Seconds())
	if err != nil {
		return res, err
	}
	c.pid = ch.PlaybackID
	master := "http://" + c.origin + "/hls/" + ch.PlaybackID + "/live.m3u8"
	err = waitFor(30*time.Second, "the stream to play through the origin", func() bool {
		code, _, _ := httpGet(ctx, master)
		last, err := c.lastSegment(ctx)
		return code == http.StatusOK && err == nil && last >= 0
	}, c.serverProc, c.orgProc, c.ffmpegProc)
	if err != nil {
		return res, err
	}
	if res.segmentSeconds, err = c.segmentSeconds(ctx); err != nil {
		return res, err
	}
	if res.stream, err = c.measure(ctx, o.stream); err != nil {
		return res, err
	}

	// The viewers, through the origin.
	vctx, stopViewers := context.WithCancel(ctx)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.viewers}, Timeout: 10 * time.Second}
	viewersDone := make(chan struct{})
	go func() {
		defer close(viewersDone)
		runViewers(vctx, client, master, o.viewers, c.counts)
	}()
	time.Sleep(o.warmup) // the viewers join: not part of the window
	res.watch, err = c.measure(ctx, o.watch)
	stopViewers()
	<-viewersDone
	client.CloseIdleConnections()
	if err != nil {
		return res, err
	}
	if res.watch.requests == 0 {
		return res, fmt.Errorf("the viewers made no request in their window (%s)", c.counts)
	}
	return res, nil
}

// measure returns the window of d that starts now, and fails if a process
// died during it.
func (c *cluster) measure(ctx context.Context, d time.Duration) (window, error) {
	a, err := c.snapshot(ctx)
	if err != nil {
		return window{}, err
	}
	time.Sleep(d) // the window: counters are read at both ends
	b, err := c.snapshot(ctx)
	if err != nil {
		return window{}, err
	}
	if err := c.alive(); err != nil {
		return window{}, err
	}
	return between(a, b), nil
}

// segmentSeconds is the server's target duration.
func (c *cluster) segmentSeconds(ctx context.Context) (float64, error) {
	base := "http://" + c.server + "/hls/" + c.pid + "/"
	_, body, err := httpGet(ctx, base+"live.m3u8")
	if err != nil {
		return 0, err
	}
	variants, err := parseMasterPlaylist(string(body))
	if err != nil {
		return 0, err
	}
	_, body, err = httpGet(ctx, base+variants[0])
	if err != nil {
		return 0, err
	}
	p, err := parseMediaPlaylist(string(body))
	return float64(p.Target), err
}
