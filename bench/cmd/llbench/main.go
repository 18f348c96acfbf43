// Command llbench measures the cluster origin (origin.NewCluster) holding
// low-latency HLS viewers: many viewers of one stream blocked at its live
// edge, each as an LL-HLS player (hls.js in lowLatencyMode) asks, for
// every part, a blocking delta playlist request
// (index.m3u8?_HLS_msn=M&_HLS_part=P&_HLS_skip=YES) and, at the same
// time, the part its preload hint names.
//
//	go run ./bench/cmd/llbench [-viewers 2000] [-parts 20] [-interval 500ms] [-bitrates 0,0,0]
//
// The upstream, a livestream server's internal HLS listener
// (origin.NewLocal over a memory store and an hlsmux.Edge), runs in this
// process with the viewers; the stream's renditions get a part each
// -interval, their playlists and the edge advanced as the segmenters
// advance them. The origin runs in a child process (this program again),
// so that its CPU time, read from /proc, is its own. Every viewer and
// the origin talk real HTTP/1.1 on 127.0.0.1, each viewer on connections
// of its own.
//
// It reports, per rendition and part, how many requests the upstream got
// for its playlist and for the part (each must be 1: viewers waiting for
// the same part share one request), the origin's CPU per second of wall
// time while the parts come, this process's, and how long after the edge
// listed a part the viewers had its playlist. It exits 1 when a part cost
// more or fewer than one upstream request, or a viewer failed.
//
// The default parts are 1 KiB, which measures the blocking and
// coalescing alone; -bitrates 5000,3000,800 gives a real ladder's part
// sizes, some 540 MB/s to 2,000 viewers, which on two cores shared with
// the viewers makes them fall behind the live edge.
//
// bench/ll.sh runs it with its defaults.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/origin"
)

type options struct {
	viewers, parts int
	interval       time.Duration
	renditions     []rendition
}

func main() {
	if isOrigin() {
		if err := runOrigin(); err != nil {
			fmt.Fprintf(os.Stderr, "llbench origin: %v\n", err)
			os.Exit(1)
		}
		return
	}
	o := options{}
	flag.IntVar(&o.viewers, "viewers", 2000, "concurrent viewers, spread evenly over the renditions")
	flag.IntVar(&o.parts, "parts", 20, "parts each viewer waits for and plays")
	flag.DurationVar(&o.interval, "interval", partTarget, "time between parts")
	bitrates := flag.String("bitrates", "0,0,0", "kbit/s of the 1080p, 720p and 360p renditions, giving their parts' sizes (0: 1 KiB parts, the default: the blocking machinery alone)")
	flag.Parse()
	names := []string{"1080p", "720p", "360p"}
	rates := strings.Split(*bitrates, ",")
	if len(rates) != len(names) || o.viewers < len(names) || o.parts < 1 || o.interval <= 0 {
		fmt.Fprintln(os.Stderr, "llbench: -bitrates takes 3 numbers; -viewers at least 3; -parts and -interval positive")
		os.Exit(2)
	}
	for i, name := range names {
		kbps, err := strconv.Atoi(rates[i])
		if err != nil || kbps < 0 {
			fmt.Fprintf(os.Stderr, "llbench: -bitrates: %q\n", rates[i])
			os.Exit(2)
		}
		bytes := kbps * 1000 / 8 * int(partTarget/time.Millisecond) / 1000
		if kbps == 0 {
			bytes = 1 << 10
		}
		o.renditions = append(o.renditions, rendition{name: name, partBytes: bytes})
	}
	ok, err := run(os.Stdout, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "llbench: %v\n", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(w io.Writer, o options) (ok bool, err error) {
	fds := 2*o.viewers + 512 // two connections a viewer, and some
	if err := raiseFileLimit(fds); err != nil {
		return false, err
	}
	st, err := newStream(o.renditions)
	if err != nil {
		return false, err
	}
	up := &upstreamCounter{h: origin.NewLocal(st, origin.Options{}), n: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	upSrv := &http.Server{Handler: up}
	go upSrv.Serve(l)
	defer upSrv.Close()
	child, err := startOrigin(l.Addr().String(), fds)
	if err != nil {
		return false, err
	}
	defer child.stop()

	client := &http.Client{Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: 2 * o.viewers, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.parts)*o.interval+2*time.Minute)
	defer cancel()
	base := "http://" + child.addr + "/hls/" + playbackID
	edge := &advanced{at: map[string]time.Time{}}
	vs := &viewerStats{}
	from := map[string]hlsmux.Position{}
	for _, r := range o.renditions {
		from[r.name] = st.position(r.name)
	}
	var wg sync.WaitGroup
	for i := range o.viewers {
		r := o.renditions[i%len(o.renditions)].name
		wg.Go(func() { watch(ctx, client, base, r, from[r], o.parts, edge, vs) })
	}
	// Every viewer blocked on the first part: per rendition, one
	// upstream request for the playlist and one for the part, the
	// others waiting for them.
	wantBlocked := int64(2*o.viewers - 2*len(o.renditions))
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := child.stats()
		if err != nil {
			return false, fmt.Errorf("read the origin's stats: %w", err)
		}
		if s.Coalesced >= wantBlocked {
			break
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("only %d of %d requests waiting after a minute", s.Coalesced, wantBlocked)
		}
		time.Sleep(50 * time.Millisecond) // another process's state: polled
	}

	cpu0, err := child.cpu()
	if err != nil {
		return false, err
	}
	busy0, total0, err := machineBusy()
	if err != nil {
		return false, err
	}
	self0, _ := testenv.SelfCPU()
	start := time.Now()
	tick := time.NewTicker(o.interval)
	for range o.parts {
		if err := st.advance(func(r string, p hlsmux.Position) { edge.set(partKey(r, p), time.Now()) }); err != nil {
			return false, err
		}
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := child.cpu()
	if err != nil {
		return false, err
	}
	self1, _ := testenv.SelfCPU()
	busy1, total1, err := machineBusy()
	if err != nil {
		return false, err
	}
	machine := float64(busy1-busy0) / float64(max(total1-total0, 1)) * float64(runtime.NumCPU())
	stats, err := child.stats()
	if err != nil {
		return false, err
	}
	return report(w, o, up, from, vs, stats, wall, cpu1-cpu0, self1-self0, machine), nil
}

// report prints the figures and returns whether every part cost one
// upstream request and every viewer got every answer.
func report(w io.Writer, o options, up *upstreamCounter, from map[string]hlsmux.Position, vs *viewerStats,
	stats origin.ClusterStats, wall, originCPU, selfCPU time.Duration, machine float64) bool {
	ok := true
	fmt.Fprintf(w, "llbench: %d viewers of %d renditions (%s), %d parts every %v; %s, GOMAXPROCS %d, %d cores\n",
		o.viewers, len(o.renditions), sizes(o.renditions), o.parts, o.interval, runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "\nupstream requests per part (each must be 1)\n%-8s %-26s %-26s\n", "rendition", "playlist (min/max)", "part (min/max)")
	for _, r := range o.renditions {
		plMin, plMax, partMin, partMax := 1<<30, 0, 1<<30, 0
		p := from[r.name]
		for range o.parts {
			p = next(p)
			pl := up.count(fmt.Sprintf("/hls/%s/%s/index.m3u8?_HLS_msn=%d&_HLS_part=%d&_HLS_skip=YES", playbackID, r.name, p.MSN, p.Part))
			part := up.count(fmt.Sprintf("/hls/%s/%s/%d.%d.m4s", playbackID, r.name, p.MSN, p.Part))
			plMin, plMax = min(plMin, pl), max(plMax, pl)
			partMin, partMax = min(partMin, part), max(partMax, part)
		}
		ok = ok && plMin == 1 && plMax == 1 && partMin == 1 && partMax == 1
		fmt.Fprintf(w, "%-8s %-26s %-26s\n", r.name, fmt.Sprintf("%d / %d", plMin, plMax), fmt.Sprintf("%d / %d", partMin, partMax))
	}
	fmt.Fprintf(w, "upstream requests in all: %d (%d renditions × %d parts × 2 = %d)\n", up.total(), len(o.renditions), o.parts, len(o.renditions)*o.parts*2)

	secs := wall.Seconds()
	fmt.Fprintf(w, "\nwall %.2fs from the first part to the last viewer's last answer\n", secs)
	fmt.Fprintf(w, "origin process CPU: %.2fs = %.3f cores\n", originCPU.Seconds(), originCPU.Seconds()/secs)
	fmt.Fprintf(w, "viewers+upstream process CPU: %.2fs = %.3f cores\n", selfCPU.Seconds(), selfCPU.Seconds()/secs)
	fmt.Fprintf(w, "machine busy meanwhile: %.2f of %d cores (other processes and softirq included)\n", machine, runtime.NumCPU())
	fmt.Fprintf(w, "viewers' answers: %d playlists, %d parts, %.1f MB/s\n", vs.playlists.Load(), vs.parts.Load(), float64(vs.bytes.Load())/secs/1e6)
	lag := slices.Clone(vs.lag)
	slices.Sort(lag)
	if n := len(lag); n > 0 {
		q := func(f float64) time.Duration { return lag[min(n-1, int(f*float64(n)))].Round(10 * time.Microsecond) }
		fmt.Fprintf(w, "playlist after the edge listed its part: p50 %v, p90 %v, p99 %v, max %v\n", q(0.5), q(0.9), q(0.99), lag[n-1].Round(10*time.Microsecond))
		late, _ := slices.BinarySearch(lag, lateAfter)
		if late < n {
			fmt.Fprintf(w, "  %d answers came more than %v late: the origin keeps a blocking answer one target duration, so a viewer that far behind costs another upstream request\n", n-late, lateAfter)
		}
	}
	fmt.Fprintf(w, "origin stats: fetches %d (blocking %d), coalesced %d, hits %d, fetch errors %d\n",
		stats.Fetches, stats.BlockingFetches, stats.Coalesced, stats.Hits, stats.FetchErrors)
	want := int64(o.viewers * o.parts)
	if vs.playlists.Load() != want || vs.parts.Load() != want || len(vs.failures) > 0 {
		ok = false
		fmt.Fprintf(w, "FAIL: %d playlists and %d parts answered, want %d each; failures: %q\n", vs.playlists.Load(), vs.parts.Load(), want, vs.failures)
	}
	if !ok {
		fmt.Fprintln(w, "FAIL: a part did not cost exactly one upstream request")
	}
	return ok
}

// lateAfter is the stream's target duration, how long the origin caches a
// blocking answer.
const lateAfter = partsPerSegment * partTarget

func sizes(rs []rendition) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s %d KB parts", r.name, r.partBytes/1000))
	}
	return strings.Join(parts, ", ")
}
