// Command originbench measures the cluster origin (origin.NewCluster)
// serving a hot 1 MiB segment and a live media playlist to many
// keep-alive clients, side by side with nginx serving the same files from
// disk, both loaded by wrk on 127.0.0.1.
//
//	go run ./bench/cmd/originbench [-seconds 20] [-runs 3] [-connections 200] [-threads 2] [-pin=true] [-cpuprofile ours.prof [-profile-file playlist]] [-v]
//
// Ours runs in this process, in front of an upstream http.FileServer that
// stands in for a livestream server (a Router names it); after the first
// request every segment request is a cache hit, which is what a hot
// segment is. The playlist is fetched again from the upstream once its
// cached copy expires (half its 2 s target, at most 1 s), by design;
// nginx reads it from disk (its open-file cache).
//
// For each file it alternates ours and nginx (ABBA) -runs times and
// prints, per run and as medians, wrk's requests/s and p50/p99 latency,
// the server's CPU use, and ours/nginx. With -pin (the default on two
// cores or more) the servers share core 0, each a single thread of
// execution (nginx one worker process, ours GOMAXPROCS 1), and wrk runs on
// core 1, so that neither server competes with the load generator.
//
// bench/origin.sh runs it with its defaults.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// options are the parsed flags.
type options struct {
	wrk, nginx      string
	seconds         time.Duration
	runs            int
	conns, threads  int
	serverCore      int // -1: not pinned
	wrkCore         int
	cpuprofile      string
	profileFile     string // "segment" or "playlist"
	printWrkReports bool
}

func main() {
	o := options{}
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary (Debian package wrk)")
	flag.StringVar(&o.nginx, "nginx", "nginx", "nginx binary (Debian package nginx)")
	secs := flag.Int("seconds", 20, "seconds of each wrk run")
	flag.IntVar(&o.runs, "runs", 3, "runs of each server per file, in ABBA order")
	flag.IntVar(&o.conns, "connections", 200, "wrk's keep-alive connections (-c)")
	flag.IntVar(&o.threads, "threads", 2, "wrk's threads (-t)")
	pin := flag.Bool("pin", runtime.NumCPU() >= 2, "pin the servers to core 0 (ours with GOMAXPROCS 1) and wrk to core 1")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of ours during its runs of -profile-file to `file`")
	flag.StringVar(&o.profileFile, "profile-file", "segment", "the file whose runs -cpuprofile profiles: segment or playlist")
	flag.BoolVar(&o.printWrkReports, "v", false, "print each wrk report in full")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments %q", flag.Args())
	}
	if o.profileFile != "segment" && o.profileFile != "playlist" {
		fatalf("-profile-file %q: want segment or playlist", o.profileFile)
	}
	if *secs < 1 || o.runs < 1 || o.conns < 1 || o.threads < 1 || o.threads > o.conns {
		fatalf("-seconds, -runs, -connections and -threads must be positive, with threads ≤ connections")
	}
	o.seconds = time.Duration(*secs) * time.Second
	o.serverCore, o.wrkCore = -1, -1
	if *pin {
		o.serverCore, o.wrkCore = 0, 1
		if err := pinSelf(o.serverCore); err != nil {
			fatalf("%v", err)
		}
	}
	if err := run(os.Stdout, o); err != nil {
		fmt.Fprintf(os.Stderr, "originbench: %v\n", err)
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "originbench: "+format+"\n", args...)
	os.Exit(2)
}

// pinSelf moves every thread of this process to core, and gives the Go
// scheduler one P: the runtime sized GOMAXPROCS from the CPUs it had at
// start, and more Ps than cores only adds switching.
func pinSelf(core int) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", strconv.Itoa(core), strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pin to core %d with taskset: %w: %s", core, err, bytes.TrimSpace(out))
	}
	runtime.GOMAXPROCS(1)
	return nil
}

// server is one side of the comparison.
type server struct {
	name string
	addr string
	// cpu returns the CPU time the server has used so far.
	cpu func() (time.Duration, error)
}

// target is one file both servers serve.
type target struct {
	name string // for the report
	kind string // "segment" or "playlist", as -profile-file names it
	path string
	data []byte
}

// trial is one wrk run against one server.
type trial struct {
	wrkResult
	cores float64 // the server's mean CPU use during the run
	// busy is each core's busy fraction during the run, whatever
	// process or interrupt used it.
	busy []float64
}

func run(w io.Writer, o options) error {
	dir, err := os.MkdirTemp("", "originbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root := dir + "/www"
	segment, playlist, err := writeFiles(root)
	if err != nil {
		return fmt.Errorf("write the files: %w", err)
	}
	if err := os.Mkdir(dir+"/nginx", 0o755); err != nil {
		return err
	}
	ngx, err := startNginx(o.nginx, dir+"/nginx", root, o.serverCore)
	if err != nil {
		return err
	}
	defer ngx.kill()
	us, err := startOurs(root)
	if err != nil {
		return err
	}
	defer us.close()

	servers := []server{
		{name: "ours", addr: us.addr, cpu: testenv.SelfCPU},
		{name: "nginx", addr: ngx.addr, cpu: func() (time.Duration, error) { return testenv.ProcessCPU(ngx.pid()) }},
	}
	targets := []target{
		{name: "segment 1 MiB", kind: "segment", path: "/hls/" + playbackID + "/" + segmentName, data: segment},
		{name: "media playlist", kind: "playlist", path: "/hls/" + playbackID + "/" + playlistName, data: playlist},
	}
	for _, s := range servers {
		for _, t := range targets {
			if err := check(s, t); err != nil {
				return err
			}
		}
	}

	pinning := "not pinned: wrk, nginx and ours share all cores"
	if o.serverCore >= 0 {
		pinning = fmt.Sprintf("pinned with taskset: servers on core %d (nginx 1 worker, ours GOMAXPROCS %d), wrk on core %d",
			o.serverCore, runtime.GOMAXPROCS(0), o.wrkCore)
	}
	fmt.Fprintf(w, "ours: origin.NewCluster (%s, GOMAXPROCS %d) in front of an http.FileServer upstream on 127.0.0.1\n", runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "nginx: %s, one process, sendfile on, keepalive, open_file_cache, files on disk (%s)\n", nginxVersion(o.nginx), dir)
	fmt.Fprintf(w, "load: %s -t%d -c%d -d%ds --latency; %d runs per server and file, ABBA order\n", o.wrk, o.threads, o.conns, int(o.seconds.Seconds()), o.runs)
	fmt.Fprintf(w, "cores: %d on this machine; %s\n", runtime.NumCPU(), pinning)
	fmt.Fprintf(w, "cpu: the server process's mean CPU use during the run (cores); busy: each core's busy fraction, interrupts included\n\n")
	fmt.Fprintf(w, "%-15s %-4s %-6s %11s %10s %10s %9s %10s %6s  %s\n", "file", "run", "server", "requests/s", "p50", "p99", "requests", "B/request", "cpu", "busy")

	results := map[string]map[string][]trial{} // target, server
	for _, t := range targets {
		results[t.name] = map[string][]trial{}
		profiling := false
		for r := range o.runs {
			order := slices.Clone(servers)
			if r%2 == 1 { // ABBA: drift and warm-up cost both sides alike
				slices.Reverse(order)
			}
			for _, s := range order {
				if s.name == "ours" && t.kind == o.profileFile && o.cpuprofile != "" && !profiling {
					stop, err := startProfile(o.cpuprofile)
					if err != nil {
						return err
					}
					defer stop()
					profiling = true
				}
				tr, report, err := measure(o, s, t)
				if err != nil {
					return fmt.Errorf("%s, %s, run %d: %w", t.name, s.name, r+1, err)
				}
				if o.printWrkReports {
					fmt.Fprintf(w, "--- wrk report: %s, %s, run %d\n%s---\n", t.name, s.name, r+1, report)
				}
				fmt.Fprintf(w, "%-15s %-4d %-6s %11.0f %10s %10s %9d %10.0f %6.2f  %s\n", t.name, r+1, s.name,
					tr.rps, fmtLatency(tr.p50), fmtLatency(tr.p99), tr.requests, tr.bytesRead/float64(tr.requests), tr.cores, fmtBusy(tr.busy))
				if p := tr.problem(); p != "" {
					return fmt.Errorf("%s, %s, run %d: %s", t.name, s.name, r+1, p)
				}
				results[t.name][s.name] = append(results[t.name][s.name], tr)
			}
		}
		if profiling {
			pprof.StopCPUProfile()
		}
	}

	fmt.Fprintf(w, "\nmedians of %d runs (ratio: ours/nginx of the medians; for latency below 1 is better)\n", o.runs)
	fmt.Fprintf(w, "%-15s %-6s %11s %10s %10s %6s\n", "file", "server", "requests/s", "p50", "p99", "cpu")
	for _, t := range targets {
		var med [2]struct {
			rps, cores float64
			p50, p99   time.Duration
		}
		for i, s := range servers {
			trs := results[t.name][s.name]
			m := &med[i]
			m.rps = median(trs, func(t trial) float64 { return t.rps })
			m.p50 = time.Duration(median(trs, func(t trial) float64 { return float64(t.p50) }))
			m.p99 = time.Duration(median(trs, func(t trial) float64 { return float64(t.p99) }))
			m.cores = median(trs, func(t trial) float64 { return t.cores })
			fmt.Fprintf(w, "%-15s %-6s %11.0f %10s %10s %6.2f\n", t.name, s.name, m.rps, fmtLatency(m.p50), fmtLatency(m.p99), m.cores)
		}
		fmt.Fprintf(w, "%-15s %-6s %10.2fx %9.2fx %9.2fx\n", t.name, "ratio", med[0].rps/med[1].rps,
			float64(med[0].p50)/float64(med[1].p50), float64(med[0].p99)/float64(med[1].p99))
	}
	st := us.cluster.Stats()
	fmt.Fprintf(w, "\nours' upstream fetches: %d segment, %d playlist; cache hits %d, coalesced %d, fetch errors %d\n",
		st.SegmentFetches, st.PlaylistFetches, st.Hits, st.Coalesced, st.FetchErrors)
	if st.SegmentFetches != 1 {
		return fmt.Errorf("ours fetched the segment %d times from upstream, want 1 (the cache should hold it)", st.SegmentFetches)
	}
	if err := ngx.stop(); err != nil {
		return err
	}
	return us.close()
}

// check GETs t from s and compares the body, so that neither side is
// measured serving something else (a 404 is fast too).
func check(s server, t target) error {
	resp, err := http.Get("http://" + s.addr + t.path)
	if err != nil {
		return fmt.Errorf("check %s from %s: %w", t.name, s.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("check %s from %s: %w", t.name, s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, t.data) {
		return fmt.Errorf("check %s from %s: status %d, %d bytes, want 200 and the file's %d", t.name, s.name, resp.StatusCode, len(body), len(t.data))
	}
	return nil
}

// measure runs wrk against s for t and the server's CPU use meanwhile.
func measure(o options, s server, t target) (trial, string, error) {
	cpu0, err := s.cpu()
	if err != nil {
		return trial{}, "", err
	}
	cores0, err := readCoreTimes()
	if err != nil {
		return trial{}, "", err
	}
	start := time.Now()
	r, report, err := runWrk(wrkCommand(o.wrk, o.wrkCore, o.threads, o.conns, o.seconds, "http://"+s.addr+t.path))
	if err != nil {
		return trial{}, report, err
	}
	wall := time.Since(start)
	cpu1, err := s.cpu()
	if err != nil {
		return trial{}, report, err
	}
	cores1, err := readCoreTimes()
	if err != nil {
		return trial{}, report, err
	}
	return trial{wrkResult: r, cores: (cpu1 - cpu0).Seconds() / wall.Seconds(), busy: cores1.busySince(cores0)}, report, nil
}

func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile() // a no-op once stopped
		f.Close()
	}, nil
}

func median(ts []trial, value func(trial) float64) float64 {
	v := make([]float64, len(ts))
	for i, t := range ts {
		v[i] = value(t)
	}
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func fmtLatency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// fmtBusy is "0.98 0.41": each core's busy fraction.
func fmtBusy(busy []float64) string {
	var b strings.Builder
	for i, f := range busy {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.2f", f)
	}
	return b.String()
}
