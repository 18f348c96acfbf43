// Command relaybench measures copy relays on this machine: package relay
// (what the server runs for each relay destination) side by side with the
// ffmpeg CLI the way people restream today, relaying the same camera-like
// 720p30 stream in real time to Debian's nginx with its RTMP module on
// 127.0.0.1.
//
//	go run ./bench/cmd/relaybench [-scenarios 1x10,20x1] [-seconds 60] [-runs 3] [-max-steps 20,50,100,200,400]
//
// A scenario SxD is S streams, each relayed to D destinations. For each,
// it alternates ours and the reference (ABBA) -runs times and prints the
// medians of the CPU-seconds spent per relayed stream-second and of their
// ratio, and whether each side kept up with real time: no packet dropped
// or left unsent, never 1 s or more behind the wall clock. Then it looks for
// the largest number of 1-destination streams ours sustains: the
// -max-steps in turn until one does not keep up or needs more than
// -max-cores.
//
// bench/relay.sh runs it with its defaults.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/sirupsen/logrus"
)

func main() {
	o := options{}
	flag.StringVar(&o.source, "source", filepath.Join(os.TempDir(), "livestream-bench", "live-720p30.flv"),
		"source `FLV` (H.264 + AAC); made with bench/live.sh's ffmpeg command if missing")
	flag.StringVar(&o.ffmpeg, "ffmpeg", "ffmpeg", "ffmpeg CLI")
	flag.StringVar(&o.nginx, "nginx", "nginx", "nginx binary (with libnginx-mod-rtmp installed)")
	scenarios := flag.String("scenarios", "1x10,20x1", "comma-separated `SxD`: S streams, each relayed to D destinations; empty skips them")
	flag.Float64Var(&o.seconds, "seconds", 60, "seconds each run relays")
	flag.IntVar(&o.runs, "runs", 3, "runs of each side per scenario, in ABBA order")
	flag.StringVar(&o.reference, "reference", refTee, "how the ffmpeg CLI relays D destinations: "+strings.Join(referenceModes, ", "))
	steps := flag.String("max-steps", "20,50,100,200,400,600,800,1000", "numbers of 1-destination streams to try for the max sustained figure; empty skips it")
	flag.Float64Var(&o.maxSeconds, "max-seconds", 30, "seconds of each max-sustained step")
	flag.Float64Var(&o.maxCores, "max-cores", 1.8, "CPU (cores) above which a max-sustained step does not count")
	flag.IntVar(&o.maxRetries, "max-retries", 2, "times a max-sustained step that failed while other work used the CPU is tried again")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (our relays) to `file`")
	verbose := flag.Bool("v", false, "log the relays' events (info and warnings); without it, errors only")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	var err error
	if *scenarios != "" {
		if o.scenarios, err = parseScenarios(*scenarios); err != nil {
			fatalf("-scenarios: %v", err)
		}
	}
	if *steps != "" {
		if o.steps, err = parseCounts(*steps); err != nil {
			fatalf("-max-steps: %v", err)
		}
	}
	if !slices.Contains(referenceModes, o.reference) {
		fatalf("-reference %q: want one of %s", o.reference, strings.Join(referenceModes, ", "))
	}
	if o.seconds <= 0 || o.maxSeconds <= 0 || o.runs < 1 {
		fatalf("-seconds, -max-seconds and -runs must be positive")
	}
	// Drops and reconnects are counted in the report; their warnings,
	// one a second per relay, would bury it.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	o.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	quietRTMP()
	if err := generateSource(o.ffmpeg, o.source); err != nil {
		fatalf("%v", err)
	}
	src, err := loadSource(o.source)
	if err != nil {
		fatalf("%v", err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := run(os.Stdout, o, src); err != nil {
		fmt.Fprintf(os.Stderr, "relaybench: %v\n", err)
		os.Exit(1)
	}
}

// quietRTMP keeps go-rtmp's warnings only: its chunk streamer logs to
// logrus's standard logger whatever the connection's logger, at info level
// on every connection ("Changing chunkSize").
func quietRTMP() { logrus.SetLevel(logrus.WarnLevel) }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "relaybench: "+format+"\n", args...)
	os.Exit(2)
}

// options are the parsed flags.
type options struct {
	source, ffmpeg, nginx string
	scenarios             []scenario
	seconds               float64
	runs                  int
	reference             string
	steps                 []int
	maxSeconds, maxCores  float64
	maxRetries            int
	log                   *slog.Logger
}

// run runs the scenarios and the max-sustained search and writes the
// report to w.
func run(w io.Writer, o options, src *source) error {
	v := src.video
	fmt.Fprintf(w, "source %s: %dx%d %.4g fps H.264 + AAC %d Hz %d ch, %.1f s looped, %.2f Mbit/s\n",
		filepath.Base(o.source), v.Width, v.Height, v.FrameRate.Float(), src.audio.SampleRate, src.audio.Channels,
		src.seconds(), float64(src.bytes)*8/src.seconds()/1e6)
	fmt.Fprintf(w, "destination: nginx %s with the RTMP module on 127.0.0.1, `live on`, no recording; a fresh one per run\n", nginxVersion(o.nginx))
	fmt.Fprintf(w, "ours: package relay in this process (GOMAXPROCS %d), CPU = getrusage(RUSAGE_SELF) from the first relay.Start to the last Close\n", runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "reference: %s, ffmpeg -re -stream_loop -1 -c copy; %s; CPU = the processes' rusage\n", ffmpegVersion(o.ffmpeg), describeReference(o.reference))
	fmt.Fprintf(w, "%d s per run, %d runs per side, ABBA order\n", int(o.seconds), o.runs)
	fmt.Fprintf(w, "cores: the side's mean CPU use; nginx: the destination's; machine: busy CPUs of the whole machine (%d), other work included\n", sampleMachine().cpus)
	if len(o.scenarios) > 0 {
		if err := runScenarios(w, o, src); err != nil {
			return err
		}
	}
	if len(o.steps) > 0 {
		return maxSustained(w, o, src)
	}
	return nil
}

// runScenarios runs each scenario's sides in ABBA order and prints each
// run, then the medians.
func runScenarios(w io.Writer, o options, src *source) error {
	fmt.Fprintf(w, "\n%-4s %-8s %-9s %14s %7s %7s %7s %9s  %s\n", "run", "scenario", "side", "CPU-s/relay-s", "cores", "nginx", "machine", "max lag", "kept up")
	var rows []summary
	for _, sc := range o.scenarios {
		s := summary{sc: sc}
		for r := range o.runs {
			order := []string{"ours", "reference"}
			if r%2 == 1 { // ABBA: drift and warm-up cost both sides alike
				slices.Reverse(order)
			}
			for _, side := range order {
				t, err := runTrial(o, src, side, sc, o.seconds)
				if err != nil {
					return fmt.Errorf("%s, %s, run %d: %w", sc, side, r+1, err)
				}
				printTrial(w, strconv.Itoa(r+1), sc.String(), side, t)
				if side == "ours" {
					s.ours = append(s.ours, t)
				} else {
					s.ref = append(s.ref, t)
				}
			}
		}
		rows = append(rows, s)
	}
	fmt.Fprintf(w, "\nmedians of %d runs (CPU-s/relay-s: CPU-seconds per relayed stream-second; ratio: median of the runs' ours/reference)\n", o.runs)
	fmt.Fprintf(w, "%-8s %14s %14s %8s %16s %16s %14s\n", "scenario", "ours", "reference", "ratio", "kept up ours/ref", "nginx cores o/r", "ours max lag")
	for _, s := range rows {
		fmt.Fprintf(w, "%-8s %14.5f %14.5f %7.3fx %16s %16s %13.3fs\n", s.sc,
			median(perRelaySecond(s.ours)), median(perRelaySecond(s.ref)), median(s.ratios()),
			fmt.Sprintf("%d/%d / %d/%d", keptUp(s.ours), len(s.ours), keptUp(s.ref), len(s.ref)),
			fmt.Sprintf("%.2f / %.2f", median(nginxCores(s.ours)), median(nginxCores(s.ref))),
			median(maxLags(s.ours)))
	}
	return nil
}

// maxSustained relays more and more 1-destination streams until ours does
// not keep up, and prints the largest number that did.
func maxSustained(w io.Writer, o options, src *source) error {
	fmt.Fprintf(w, "\nmax sustained (ours, D=1, %d s per step, up to %.2g cores)\n", int(o.maxSeconds), o.maxCores)
	fmt.Fprintf(w, "%-7s %14s %7s %7s %7s %9s  %s\n", "streams", "CPU-s/relay-s", "cores", "nginx", "machine", "max lag", "kept up")
	best := 0
	for _, n := range o.steps {
		var t trial
		for attempt := 0; ; attempt++ {
			var err error
			t, err = runTrial(o, src, "ours", scenario{streams: n, dests: 1}, o.maxSeconds)
			if err != nil {
				return fmt.Errorf("max sustained, %d streams: %w", n, err)
			}
			if t.problem == "" && t.cores() > o.maxCores {
				t.problem = fmt.Sprintf("%.2f cores", t.cores())
			}
			printTrial(w, "", strconv.Itoa(n), "", t)
			// Other work on the machine took the CPU we needed: that
			// says nothing of ours, so try again.
			if t.problem == "" || t.otherCores() < disturbedCores || attempt == o.maxRetries {
				break
			}
			fmt.Fprintf(w, "%-7s other work took %.2f cores: again\n", "", t.otherCores())
		}
		if t.problem != "" {
			break
		}
		best = n
	}
	if best == 0 {
		fmt.Fprintf(w, "largest number of streams sustained: fewer than %d\n", o.steps[0])
	} else {
		fmt.Fprintf(w, "largest number of streams sustained: %d (of the steps tried)\n", best)
	}
	return nil
}

// runTrial runs one side of sc against a fresh nginx, which it stops
// after (its CPU is part of the trial).
func runTrial(o options, src *source, side string, sc scenario, seconds float64) (trial, error) {
	dir, err := os.MkdirTemp("", "relaybench-nginx-")
	if err != nil {
		return trial{}, err
	}
	defer os.RemoveAll(dir)
	n, err := nginxrtmp.Start(nginxrtmp.Options{Dir: dir, Nginx: o.nginx,
		MaxConnections: max(1024, 2*sc.streams*sc.dests+64)})
	if err != nil {
		return trial{}, err
	}
	defer n.Kill()
	var t trial
	m0 := sampleMachine()
	if side == "ours" {
		t, err = runOurs(n.Addr, src, sc, seconds, o.log)
	} else {
		t, err = runReference(o.ffmpeg, o.source, n.Addr, sc, seconds, o.reference)
	}
	t.machineCores = m0.busyCores(sampleMachine())
	select {
	case <-n.Exited():
		err = errors.Join(err, fmt.Errorf("nginx exited during the run: %s", lastLines(n.ErrorLog(), 5)))
	default:
	}
	if stopErr := n.Stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	t.nginxCPU = n.CPUTime()
	return t, err
}
