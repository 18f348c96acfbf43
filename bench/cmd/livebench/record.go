package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// recordBucket is the bucket the S3 run records to.
const recordBucket = "recordings"

// quietOthers is the most cores other processes may take during a run for
// it to count as quiet: on 2 cores, more starves serve (its CPU per stream
// drops as it falls behind), which says nothing of recording.
const quietOthers = 0.15

// runRecord measures what recording costs a live stream (issue 5): the CPU
// and peak RSS of `livestream serve` with --record=false against recording
// to a directory (the default backend), runs (a multiple of 4) in ABBA
// order (ABBA BAAB …) with the medians compared, then one run recording to S3 (a local versitygw). For
// each recording run it reads serve's recorder metrics once the uploads
// settled: the time from a segment handed to the recorder to its object
// stored, and the spool's fsynced write, as p50/p99 over the run's
// segments.
func runRecord(bin, ffmpeg, src, config string, counts []int, runs int, seconds, warmup float64) error {
	fmt.Printf("source %s, %.0f s publishes; each N: %d runs, --record=false (off) and recording to a directory (dir) in ABBA order, then once to S3 (versitygw on 127.0.0.1)\n",
		filepath.Base(src), seconds, runs)
	fmt.Printf("%-8s %-4s %-5s %11s %9s %9s %9s %9s %8s %11s %11s %10s %10s\n", "streams", "run", "rec", "CPU/stream", "peak RSS", "keeps up", "others", "uploaded", "dropped",
		"upload p50", "upload p99", "spool p50", "spool p99")
	type result struct {
		cpu, rss                             []float64
		quiet                                []float64 // cpu of the quiet runs that kept up
		upload50, upload99, spool50, spool99 []float64
	}
	var summaries, quiet []string
	for _, n := range counts {
		var off, dir result
		for run := range runs {
			// ABBA BAAB: each pair of runs has one of each, and drifts of the
			// machine's load cancel out.
			recording := (run%4 == 1 || run%4 == 2) != (run/4%2 == 1)
			sv := serveSetup{config: config, args: []string{"--record=false"}}
			name, res := "off", &off
			if recording {
				sv.args, name, res = nil, "dir", &dir
			}
			o, err := runOurs(bin, ffmpeg, src, sv, n, seconds, warmup)
			if err != nil {
				return fmt.Errorf("run %d (%s), %d streams: %w", run+1, name, n, err)
			}
			r, err := readRecorder(o.metrics, recording)
			if err != nil {
				return fmt.Errorf("run %d (%s), %d streams: %w", run+1, name, n, err)
			}
			printRecordRun(n, fmt.Sprint(run+1), name, o, r)
			res.cpu = append(res.cpu, o.cpuPerStream)
			if o.keepsUp && o.othersCPU <= quietOthers {
				res.quiet = append(res.quiet, o.cpuPerStream)
			}
			res.rss = append(res.rss, float64(o.peakRSS))
			res.upload50 = append(res.upload50, r.upload50)
			res.upload99 = append(res.upload99, r.upload99)
			res.spool50 = append(res.spool50, r.spool50)
			res.spool99 = append(res.spool99, r.spool99)
		}
		a, w := median(off.cpu), median(dir.cpu)
		summaries = append(summaries, fmt.Sprintf("%-8d %11.3f %11.3f %9.3fx %+9.2f%% %13s %13s %10s %10s %+9.1f%% %11s %11s %10s %10s",
			n, a, w, w/a, (w-a)/a*100, spread(off.cpu), spread(dir.cpu), mib(median(off.rss)), mib(median(dir.rss)), (median(dir.rss)-median(off.rss))/median(off.rss)*100,
			ms(median(dir.upload50)), ms(slices.Max(dir.upload99)), ms(median(dir.spool50)), ms(slices.Max(dir.spool99))))
		if len(off.quiet) == 0 || len(dir.quiet) == 0 {
			quiet = append(quiet, fmt.Sprintf("%-8d no quiet run on one side (off %d, dir %d)", n, len(off.quiet), len(dir.quiet)))
			continue
		}
		a, w = median(off.quiet), median(dir.quiet)
		quiet = append(quiet, fmt.Sprintf("%-8d %11.3f %11.3f %9.3fx %+9.2f%% %13s %13s %6d %6d",
			n, a, w, w/a, (w-a)/a*100, spread(off.quiet), spread(dir.quiet), len(off.quiet), len(dir.quiet)))
	}

	gw, err := startVersitygw()
	if err != nil {
		return err
	}
	defer gw.stop()
	var s3lines []string
	for _, n := range counts {
		sv := serveSetup{config: config,
			args: []string{"--s3-bucket", recordBucket, "--s3-endpoint", gw.endpoint, "--s3-path-style", "--s3-region", "us-east-1"},
			env:  []string{"AWS_ACCESS_KEY_ID=" + gw.access, "AWS_SECRET_ACCESS_KEY=" + gw.secret}}
		gw0, err := processCPU(gw.cmd.Process.Pid)
		if err != nil {
			return err
		}
		o, err := runOurs(bin, ffmpeg, src, sv, n, seconds, warmup)
		if err != nil {
			return fmt.Errorf("S3 run, %d streams: %w", n, err)
		}
		gw1, err := processCPU(gw.cmd.Process.Pid)
		if err != nil {
			return err
		}
		r, err := readRecorder(o.metrics, true)
		if err != nil {
			return fmt.Errorf("S3 run, %d streams: %w", n, err)
		}
		printRecordRun(n, fmt.Sprint(runs+1), "s3", o, r)
		s3lines = append(s3lines, fmt.Sprintf("%-8d %11.3f %10s %11s %11s %10s %10s %14.4f",
			n, o.cpuPerStream, mib(float64(o.peakRSS)), ms(r.upload50), ms(r.upload99), ms(r.spool50), ms(r.spool99), (gw1-gw0)/seconds/float64(n)))
	}

	fmt.Println()
	fmt.Printf("directory backend against --record=false: medians of %d runs each; latencies: median p50 and largest p99 of the %[1]d runs\n", runs/2)
	fmt.Printf("%-8s %11s %11s %10s %10s %13s %13s %10s %10s %10s %11s %11s %10s %10s\n", "streams", "CPU off", "CPU dir", "ratio", "extra CPU",
		"off min-max", "dir min-max", "RSS off", "RSS dir", "extra RSS",
		"upload p50", "upload p99", "spool p50", "spool p99")
	for _, l := range summaries {
		fmt.Println(l)
	}
	fmt.Printf("the same over the quiet runs only (others ≤ %.2f cores, kept up):\n", quietOthers)
	fmt.Printf("%-8s %11s %11s %10s %10s %13s %13s %6s %6s\n", "streams", "CPU off", "CPU dir", "ratio", "extra CPU", "off min-max", "dir min-max", "# off", "# dir")
	for _, l := range quiet {
		fmt.Println(l)
	}
	fmt.Println()
	fmt.Println("S3 backend (versitygw, posix, on 127.0.0.1), one run; versitygw's own CPU is not serve's and is shown apart")
	fmt.Printf("%-8s %11s %10s %11s %11s %10s %10s %14s\n", "streams", "CPU s3", "RSS s3", "upload p50", "upload p99", "spool p50", "spool p99", "versitygw CPU")
	for _, l := range s3lines {
		fmt.Println(l)
	}
	fmt.Println()
	fmt.Println("CPU in CPU-seconds per second of video per stream (serve only); peak RSS is serve's VmHWM at the end of the run.")
	fmt.Println("others: cores busy outside serve during the publishes (publishers included): above ~0.1 the machine was shared and the figures are noisy.")
	fmt.Println("upload: a segment handed to the recorder (after live's queue, at the spool write) → its object stored; spool: the fsynced spool write;")
	fmt.Println("p50/p99 over the run's recorded segments (the top rendition; \"uploaded\" of them), read from serve's /metrics once the uploads settled:")
	fmt.Println("with a few segments per run, a run's p99 is its slowest segment.")
	return nil
}

// recFigures are a run's recorder metrics; durations in seconds.
type recFigures struct {
	uploaded, dropped                    float64
	upload50, upload99, spool50, spool99 float64
}

// readRecorder reads the recorder's figures from a run's /metrics: with
// recording off there must be none, with it on every one.
func readRecorder(metrics string, recording bool) (recFigures, error) {
	var r recFigures
	fields := []struct {
		dst          *float64
		name, labels string
	}{
		{&r.uploaded, "livestream_record_uploaded_segments_total", ""},
		{&r.dropped, "livestream_record_dropped_segments_total", ""},
		{&r.upload50, "livestream_record_upload_latency_seconds", `quantile="0.5"`},
		{&r.upload99, "livestream_record_upload_latency_seconds", `quantile="0.99"`},
		{&r.spool50, "livestream_record_spool_write_seconds", `quantile="0.5"`},
		{&r.spool99, "livestream_record_spool_write_seconds", `quantile="0.99"`},
	}
	for _, f := range fields {
		v, ok := metricValue(metrics, f.name, f.labels)
		switch {
		case ok && !recording:
			return r, fmt.Errorf("serve with --record=false exports %s", f.name)
		case !ok && recording:
			return r, fmt.Errorf("serve's /metrics has no %s{%s}", f.name, f.labels)
		}
		*f.dst = v
	}
	if recording && r.uploaded == 0 {
		return r, fmt.Errorf("serve recorded no segment")
	}
	return r, nil
}

func printRecordRun(n int, run, name string, o outcome, r recFigures) {
	fig := func(v float64) string {
		if name == "off" {
			return "-"
		}
		return fmt.Sprint(v)
	}
	lat := func(v float64) string {
		if name == "off" {
			return "-"
		}
		return ms(v)
	}
	fmt.Printf("%-8d %-4s %-5s %11.3f %9s %9v %9.2f %9s %8s %11s %11s %10s %10s\n", n, run, name, o.cpuPerStream, mib(float64(o.peakRSS)),
		o.keepsUp, o.othersCPU, fig(r.uploaded), fig(r.dropped), lat(r.upload50), lat(r.upload99), lat(r.spool50), lat(r.spool99))
}

// spread is the range of xs, to judge the run-to-run noise against a
// difference of medians.
func spread(xs []float64) string {
	return fmt.Sprintf("%.3f-%.3f", slices.Min(xs), slices.Max(xs))
}

func mib(bytes float64) string { return fmt.Sprintf("%.0f MiB", bytes/(1<<20)) }

func ms(seconds float64) string { return fmt.Sprintf("%.1f ms", seconds*1000) }

// versitygw is a real S3-compatible server (its posix backend on a
// temporary directory) on 127.0.0.1, with recordBucket created, as the
// tests of record and cmd/livestream run it.
type versitygw struct {
	cmd            *exec.Cmd
	exited         chan struct{}
	dir            string
	endpoint       string // http://127.0.0.1:PORT
	access, secret string // fresh for each bench; never printed
}

// versitygwInstall is how to get the server, as the tests name it.
const versitygwInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

func startVersitygw() (*versitygw, error) {
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("versitygw is not installed: run `%s`", versitygwInstall)
		}
	}
	dir, err := os.MkdirTemp("", "livebench-s3-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	g := &versitygw{dir: dir, endpoint: "http://" + addr, access: "livebench", secret: randomHex(20), exited: make(chan struct{})}
	g.cmd = exec.Command(bin, "--access", g.access, "--secret", g.secret, "--port", addr, "posix", dir)
	if err := g.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	go func() { g.cmd.Wait(); close(g.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-g.exited:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("versitygw on %s exited at start-up: %v", addr, g.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("versitygw does not listen on %s after 10 s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // another process, polled: no event to await
	}
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(g.endpoint), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: g.access, SecretAccessKey: g.secret}, nil
		}),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(recordBucket)}); err != nil {
		g.stop()
		return nil, fmt.Errorf("create bucket %s on versitygw: %w", recordBucket, err)
	}
	return g, nil
}

// stop kills the server, waits for it and removes its data.
func (g *versitygw) stop() {
	g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.exited
	os.RemoveAll(g.dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
