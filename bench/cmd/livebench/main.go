// Command livebench measures live streaming on this machine: for N
// concurrent real-time 720p30 publishes, `livestream serve` against N
// reference ffmpeg CLI ladders fed the same stream at its native rate.
// It reports, for each N, whether each side keeps up with real time, its
// CPU per stream, and livestream's segment latency (a segment's last frame
// received over RTMP → the segment listed in its playlist).
//
//	go run ./bench/cmd/livebench -livestream bin/livestream -streams 1,2 -seconds 120 SOURCE
//
// SOURCE is an FLV of H.264/AAC (bench/live.sh makes one); publishers send
// it with `ffmpeg -re -stream_loop -1 -c copy`, so they cost next to
// nothing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livestream/livestream/bench"
	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/pipeline"
)

func main() {
	bin := flag.String("livestream", "bin/livestream", "livestream binary")
	ffmpeg := flag.String("ffmpeg", "ffmpeg", "ffmpeg CLI")
	streamsFlag := flag.String("streams", "1,2", "comma-separated numbers of concurrent streams to try")
	seconds := flag.Float64("seconds", 120, "how long each publish lasts")
	warmup := flag.Float64("warmup", 10, "seconds of each publish left out of the lag figure")
	config := flag.String("config", "", "config `file` for livestream serve (e.g. another ladder or lookahead)")
	twitch := flag.Bool("twitch", false, "measure the Twitch re-encode instead: each stream with and without ?twitch= (to a local nginx-rtmp), against one 720p x264 encode alone")
	rec := flag.Bool("record", false, "measure recording instead: serve with --record=false and with recording to a directory (ABBA), then once to S3 (a local versitygw)")
	runs := flag.Int("runs", 4, "with -record: runs per N, a multiple of 4 (ABBA, BAAB, …), half of them recording")
	srt := flag.Bool("srt", false, "publish over SRT (MPEG-TS, so the source may be HEVC) instead of RTMP")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: livebench [flags] SOURCE")
		os.Exit(2)
	}
	codec.Quiet()
	src := flag.Arg(0)
	var counts []int
	for _, f := range strings.Split(*streamsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "livebench: -streams: %q\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if *twitch || *rec {
		run := runTwitch
		if *rec {
			if *runs < 4 || *runs%4 != 0 {
				fmt.Fprintf(os.Stderr, "livebench: -runs %d: want a multiple of 4\n", *runs)
				os.Exit(2)
			}
			run = func(bin, ffmpeg, src, config string, counts []int, seconds, warmup float64) error {
				return runRecord(bin, ffmpeg, src, config, counts, *runs, seconds, warmup)
			}
		}
		if err := run(*bin, *ffmpeg, src, *config, counts, *seconds, *warmup); err != nil {
			fmt.Fprintf(os.Stderr, "livebench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	fmt.Printf("source %s, %.0f s publishes, lag counted after %.0f s\n", filepath.Base(src), *seconds, *warmup)
	fmt.Printf("%-8s %-11s %10s %12s %8s %12s %14s %14s\n", "streams", "side", "keeps up", "max lag (s)", "dropped", "CPU/stream", "latency p50", "latency p99")
	for _, n := range counts {
		o, err := runOurs(*bin, *ffmpeg, src, serveSetup{config: *config, srt: *srt}, n, *seconds, *warmup)
		if err != nil {
			fmt.Fprintf(os.Stderr, "livebench: livestream with %d streams: %v\n", n, err)
			os.Exit(1)
		}
		r, err := runReference(*ffmpeg, src, n, *seconds)
		if err != nil {
			fmt.Fprintf(os.Stderr, "livebench: ffmpeg CLI with %d streams: %v\n", n, err)
			os.Exit(1)
		}
		fmt.Printf("%-8d %-11s %10v %12.2f %8d %12.3f %13.3fs %13.3fs\n", n, "livestream", o.keepsUp, o.maxLag, o.dropped, o.cpuPerStream, o.p50, o.p99)
		fmt.Printf("%-8d %-11s %10v %12.2f %8s %12.3f %14s %14s\n", n, "ffmpeg CLI", r.keepsUp, r.maxLag, "-", r.cpuPerStream, "-", "-")
		fmt.Printf("%-8d %-11s %10s %12s %8s %11.3fx\n", n, "ratio", "", "", "", o.cpuPerStream/r.cpuPerStream)
	}
	fmt.Println("CPU/stream is CPU-seconds per second of video per stream; keeps up: lag stays under 2 s and no picture is dropped (livestream), or the ladder ends within 2 s of the source (CLI).")
}

// keepUpLag is the most a side may lag its publishers and still keep up.
const keepUpLag = 2.0

type outcome struct {
	// relaysLive: every relay was live at the last sample; relayDropped
	// sums their drops then.
	relaysLive   bool
	relayDropped int64
	keepsUp      bool
	maxLag       float64
	// dropped is the pictures the ladders dropped (late or over their
	// lag budget), summed over the streams.
	dropped      int64
	cpuPerStream float64
	p50, p99     float64
	// peakRSS is serve's VmHWM in bytes, read just before it is stopped.
	peakRSS int64
	// othersCPU is the cores busy outside serve during the publishes
	// (the publishers included): how noisy the machine was.
	othersCPU float64
	// metrics is serve's /metrics once the publishes ended and the
	// recordings, if any, settled.
	metrics string
}

// serveSetup is how one run starts `livestream serve`.
type serveSetup struct {
	config string // --config file, if any
	// twitchBase, when set, makes every publish also name ?twitch=KEY,
	// relayed to twitchBase/KEY.
	twitchBase string
	args       []string // more flags
	env        []string // more environment (KEY=value), e.g. S3 credentials
	srt        bool     // publish over SRT instead of RTMP
}

// runOurs starts `livestream serve`, publishes n streams for seconds and
// samples the streams' encode lag every second.
func runOurs(bin, ffmpeg, src string, sv serveSetup, n int, seconds, warmup float64) (outcome, error) {
	var o outcome
	dir, err := os.MkdirTemp("", "livebench-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(dir)
	addr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	rtmp, web, admin, token := addr(), addr(), addr(), "livebench"
	// Every publish comes from 127.0.0.1: no per-address cap (default 8).
	args := []string{"serve", "--rtmp-addr", rtmp, "--http-addr", web, "--admin-addr", admin,
		"--admin-token", token, "--data-dir", dir, "--log-level", "warn", "--log-format", "text", "--max-conns-per-addr", "-1"}
	if sv.config != "" {
		args = append(args, "--config", sv.config)
	}
	if sv.twitchBase != "" {
		args = append(args, "--relay-twitch-url", sv.twitchBase)
	}
	var srtAddr string
	if sv.srt {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return o, err
		}
		srtAddr = c.LocalAddr().String()
		c.Close()
		args = append(args, "--srt-addr", srtAddr)
	}
	srv := exec.Command(bin, append(args, sv.args...)...)
	srv.Env = append(os.Environ(), sv.env...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return o, err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	if err := waitHTTP("http://"+web+"/healthz", 10*time.Second); err != nil {
		return o, err
	}
	var keys []string
	for i := range n {
		out, err := exec.Command(bin, "keys", "create", fmt.Sprintf("bench %d", i), "--json", "--data-dir", dir).Output()
		if err != nil {
			return o, fmt.Errorf("keys create: %w", err)
		}
		var k struct {
			StreamKey string `json:"stream_key"`
		}
		if err := json.Unmarshal(out, &k); err != nil {
			return o, err
		}
		keys = append(keys, k.StreamKey)
	}
	cpu0, err := processCPU(srv.Process.Pid)
	if err != nil {
		return o, err
	}
	busy0, err := machineCPU()
	if err != nil {
		return o, err
	}
	start := time.Now()
	var pubs []*exec.Cmd
	for i, k := range keys {
		if sv.twitchBase != "" {
			k += fmt.Sprintf("?twitch=bench%d", i)
		}
		out := []string{"-f", "flv", "rtmp://" + rtmp + "/stream/" + k}
		if sv.srt {
			out = []string{"-f", "mpegts", "srt://" + srtAddr + "?mode=caller&latency=200000&streamid=" + k}
		}
		p := exec.Command(ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
			"-t", strconv.FormatFloat(seconds, 'f', -1, 64), "-i", src, "-c", "copy"}, out...)...)
		p.Stderr = os.Stderr
		if err := p.Start(); err != nil {
			return o, err
		}
		pubs = append(pubs, p)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		for _, p := range pubs {
			err = errors.Join(err, p.Wait())
		}
		done <- err
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last []streamInfo
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				return o, fmt.Errorf("publisher: %w", err)
			}
			waiting = false
		case <-tick.C:
			infos, err := streams("http://"+admin, token)
			if err != nil {
				return o, err
			}
			if time.Since(start).Seconds() < warmup {
				continue
			}
			last = infos
			for _, s := range infos {
				for _, r := range s.Renditions {
					o.maxLag = max(o.maxLag, r.LagSeconds)
				}
				if s.Timing != nil {
					o.maxLag = max(o.maxLag, s.Timing.EncodeLagSeconds)
				}
			}
		}
	}
	wall := time.Since(start).Seconds()
	cpu1, err := processCPU(srv.Process.Pid)
	if err != nil {
		return o, err
	}
	busy1, err := machineCPU()
	if err != nil {
		return o, err
	}
	o.cpuPerStream = (cpu1 - cpu0) / wall / float64(n)
	o.othersCPU = max(0, (busy1-busy0)-(cpu1-cpu0)) / wall
	// A ladder over its lag budget skips pictures to stay near it
	// (issue 10's frame clock), so the lag alone no longer shows a
	// stream that cannot keep up: its skipped pictures do.
	for _, s := range last {
		if s.Timing != nil {
			o.dropped += s.Timing.FramesDropped["lag"] + s.Timing.FramesDropped["late"]
		}
	}
	o.keepsUp = o.maxLag < keepUpLag && o.dropped == 0
	o.relaysLive = true
	for _, s := range last {
		for _, r := range s.Relays {
			o.relaysLive = o.relaysLive && r.State == "live"
			o.relayDropped += r.Dropped
		}
	}
	var p50, p99 []float64
	for _, s := range last {
		p50 = append(p50, s.SegmentLatency.P50)
		p99 = append(p99, s.SegmentLatency.P99)
	}
	if len(p50) > 0 {
		o.p50, o.p99 = slices.Max(p50), slices.Max(p99)
	}
	if o.metrics, err = settledMetrics("http://" + web + "/metrics"); err != nil {
		return o, err
	}
	o.peakRSS, err = peakRSS(srv.Process.Pid)
	return o, err
}

// runReference runs n ffmpeg CLI ladders, each reading the source at its
// native rate; one keeps up when it ends within a second of the source's
// duration.
func runReference(ffmpeg, src string, n int, seconds float64) (outcome, error) {
	var o outcome
	cfg := pipeline.DefaultConfig()
	dmx, err := codec.OpenFile(src)
	if err != nil {
		return o, err
	}
	v, audio := *dmx.Video, dmx.Audio != nil
	dmx.Close()
	plan := pipeline.Plan(cfg.Ladder, v.Width, v.Height)
	gop := pipeline.GOPFrames(cfg.KeyframeInterval, v.FrameRate)
	dir, err := os.MkdirTemp("", "livebench-ref-")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(dir)
	type res struct {
		wall, cpu float64
		err       error
	}
	results := make(chan res, n)
	for i := range n {
		out := filepath.Join(dir, strconv.Itoa(i))
		for _, r := range plan {
			os.MkdirAll(filepath.Join(out, r.Name), 0o755)
		}
		cmd := exec.Command(ffmpeg, bench.ReferenceLiveArgs(src, out, seconds, cfg, plan, gop, audio)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		go func() {
			t0 := time.Now()
			err := cmd.Run()
			if err != nil {
				err = fmt.Errorf("%v: %s", err, stderr.String())
				results <- res{err: err}
				return
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			results <- res{wall: time.Since(t0).Seconds(), cpu: float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9}
		}()
	}
	var cpu, wall float64
	for range n {
		r := <-results
		if r.err != nil {
			return o, r.err
		}
		cpu += r.cpu
		wall = max(wall, r.wall)
		o.maxLag = max(o.maxLag, r.wall-seconds)
	}
	o.keepsUp = o.maxLag < keepUpLag
	o.cpuPerStream = cpu / wall / float64(n)
	return o, nil
}

type streamInfo struct {
	Live   bool `json:"live"`
	Relays []struct {
		Kind    string `json:"kind"`
		State   string `json:"state"`
		Dropped int64  `json:"dropped"`
	} `json:"relays"`
	Renditions []struct {
		LagSeconds float64 `json:"lag_seconds"`
	} `json:"renditions"`
	Timing *struct {
		FramesDropped    map[string]int64 `json:"frames_dropped"`
		EncodeLagSeconds float64          `json:"encode_lag_seconds"`
	} `json:"timing"`
	SegmentLatency struct {
		P50 float64 `json:"p50_seconds"`
		P99 float64 `json:"p99_seconds"`
	} `json:"segment_latency"`
}

func streams(admin, token string) ([]streamInfo, error) {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", admin+"/api/streams", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /api/streams: %s: %s", resp.Status, b)
	}
	var infos []streamInfo
	return infos, json.Unmarshal(b, &infos)
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not up after %v", url, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processCPU is a running process's user+system CPU seconds.
func processCPU(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	rest := line[strings.LastIndexByte(line, ')')+2:]
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, line)
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100, nil // USER_HZ
}
