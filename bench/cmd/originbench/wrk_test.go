package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// A report of wrk 4.1.0 as Debian ships it, with errors.
const wrkReport = `Running 2s test @ http://127.0.0.1:33975/hls/bench0pid0000001/720p/1764000000000.ts
  2 threads and 200 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   130.97ms   81.74ms 419.13ms   70.15%
    Req/Sec   719.24    304.80     1.45k    70.59%
  Latency Distribution
     50%  126.82ms
     75%  171.57ms
     90%  239.31ms
     99%     1.02s
  2834 requests in 2.10s, 2.77GB read
  Socket errors: connect 0, read 3, write 0, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:   1348.35
Transfer/sec:      1.32GB
`

var wrkCases = []struct {
	name   string
	report string
	want   wrkResult
	err    string // a part of the error; "" for none
}{
	{
		name:   "errors",
		report: wrkReport,
		want: wrkResult{rps: 1348.35, p50: 126820 * time.Microsecond, p99: 1020 * time.Millisecond,
			requests: 2834, bytesRead: 2.77 * (1 << 30), socketErrors: 7, non2xx: 5},
	},
	{
		name: "clean",
		report: "  Latency Distribution\n     50%  812.00us\n     99%    4.10ms\n" +
			"  55556 requests in 2.09s, 32.64MB read\nRequests/sec:  26561.24\n",
		want: wrkResult{rps: 26561.24, p50: 812 * time.Microsecond, p99: 4100 * time.Microsecond,
			requests: 55556, bytesRead: 32.64 * (1 << 20)},
	},
	{name: "no --latency", report: "  2834 requests in 2.10s, 2.77GB read\nRequests/sec:   1348.35\n", err: "no Requests/sec"},
	{name: "empty", report: "", err: "no Requests/sec"},
	{name: "bad unit", report: strings.Replace(wrkReport, "126.82ms", "126.82ps", 1), err: "latency"},
	{name: "bad size", report: strings.Replace(wrkReport, "2.77GB", "2.77GX", 1), err: "size"},
	{name: "negative", report: strings.Replace(wrkReport, "1348.35", "-1", 1), err: "number"},
	{name: "huge latency", report: strings.Replace(wrkReport, "1.02s", "99999999h", 1), err: "latency"},
}

func TestParseWrk(t *testing.T) {
	for _, c := range wrkCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseWrk([]byte(c.report))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestWrkProblem(t *testing.T) {
	r, err := parseWrk([]byte(wrkReport))
	if err != nil {
		t.Fatal(err)
	}
	if p := r.problem(); !strings.Contains(p, "non-2xx") {
		t.Errorf("problem() = %q, want the non-2xx answers", p)
	}
	r.non2xx = 0
	if p := r.problem(); !strings.Contains(p, "socket errors") {
		t.Errorf("problem() = %q, want the socket errors", p)
	}
	r.socketErrors = 0
	if p := r.problem(); p != "" {
		t.Errorf("problem() = %q for a clean run", p)
	}
}

// FuzzParseWrk: parseWrk never panics, and what it accepts is sane: no
// negative count, rate or latency.
func FuzzParseWrk(f *testing.F) {
	for _, c := range wrkCases {
		f.Add([]byte(c.report))
	}
	f.Fuzz(func(t *testing.T, report []byte) {
		r, err := parseWrk(report)
		if err != nil {
			return
		}
		if r.rps < 0 || r.p50 < 0 || r.p99 < 0 || r.requests < 0 || r.bytesRead < 0 || r.socketErrors < 0 || r.non2xx < 0 {
			t.Errorf("parseWrk(%q) = %+v: negative", report, r)
		}
	})
}

func TestWrkCommandPins(t *testing.T) {
	got := strings.Join(wrkCommand("wrk", 1, 2, 200, 20*time.Second, "http://x/"), " ")
	if want := "taskset -c 1 wrk -t2 -c200 -d20s --latency http://x/"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = strings.Join(wrkCommand("wrk", -1, 2, 200, 20*time.Second, "http://x/"), " ")
	if want := "wrk -t2 -c200 -d20s --latency http://x/"; got != want {
		t.Errorf("unpinned: got %q, want %q", got, want)
	}
}

func TestProcCPU(t *testing.T) {
	// Burn a little CPU, so that the reading cannot be 0 by chance.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	d, err := testenv.ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("testenv.ProcessCPU(self) = %v, want > 0", d)
	}
	if _, err := testenv.ProcessCPU(-1); err == nil {
		t.Error("testenv.ProcessCPU(-1): no error")
	}
}

// TestServersServeSameFiles starts both sides as the benchmark does and
// checks that each serves the segment and the playlist byte for byte,
// and ours from one upstream fetch.
func TestServersServeSameFiles(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx)")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "www")
	segment, playlist, err := writeFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(segment) != segmentBytes || !strings.Contains(string(playlist), "#EXT-X-TARGETDURATION:2\n") {
		t.Fatalf("files: %d-byte segment, playlist %q", len(segment), playlist)
	}
	if err := os.Mkdir(filepath.Join(dir, "nginx"), 0o755); err != nil {
		t.Fatal(err)
	}
	ngx, err := startNginx(bin, filepath.Join(dir, "nginx"), root, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer ngx.kill()
	us, err := startOurs(root)
	if err != nil {
		t.Fatal(err)
	}
	defer us.close()
	for _, s := range []server{{name: "ours", addr: us.addr}, {name: "nginx", addr: ngx.addr}} {
		for _, tg := range []target{
			{name: "segment", path: "/hls/" + playbackID + "/" + segmentName, data: segment},
			{name: "playlist", path: "/hls/" + playbackID + "/" + playlistName, data: playlist},
			{name: "segment again", path: "/hls/" + playbackID + "/" + segmentName, data: segment},
		} {
			if err := check(s, tg); err != nil {
				t.Error(err)
			}
		}
		if err := check(s, target{name: "a missing file", path: "/hls/" + playbackID + "/720p/1.ts", data: segment}); err == nil {
			t.Errorf("%s: check passed for a file that does not exist", s.name)
		}
	}
	// The segment once (the second GET is a cache hit), and the missing
	// one once.
	if st := us.cluster.Stats(); st.SegmentFetches != 2 || st.Hits < 1 {
		t.Errorf("ours made %d segment fetches with %d cache hits, want 2 and ≥ 1", st.SegmentFetches, st.Hits)
	}
	if err := ngx.stop(); err != nil {
		t.Error(err)
	}
	if err := us.close(); err != nil {
		t.Error(err)
	}
}
