package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
)

func TestMain(m *testing.M) {
	quietRTMP()
	os.Exit(m.Run())
}

// testSource is a small camera-like source: 320x240 30 fps H.264 with a
// keyframe every 2 s, and AAC, 4 s.
func testSource(t *testing.T) (string, *source) {
	t.Helper()
	path := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 4, Audio: true})
	src, err := loadSource(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, src
}

// startNginx starts nginx recording every publish, stopped at the test's
// end.
func startNginx(t *testing.T) *nginxrtmp.Server {
	t.Helper()
	testenv.NeedTool(t, "nginx")
	dir := t.TempDir()
	n, err := nginxrtmp.Start(nginxrtmp.Options{Dir: dir, RecordDir: filepath.Join(dir, "rec")})
	if errors.Is(err, nginxrtmp.ErrNotInstalled) && os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
		t.Skipf("%v (LIVESTREAM_ALLOW_SKIP=1)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Kill)
	return n
}

// checkRecordings stops n and checks that each of the scenario's
// destinations received about seconds of video and audio.
func checkRecordings(t *testing.T, n *nginxrtmp.Server, sc scenario, seconds float64) {
	t.Helper()
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range sc.streams {
		for j := range sc.dests {
			name := strings.TrimPrefix(destURL(n.Addr, i, j), "rtmp://"+n.Addr+"/live/")
			pr := testenv.Probe(t, n.Recording(name))
			d, _ := strconv.ParseFloat(pr.Format.Duration, 64)
			if len(pr.Streams) != 2 || d < seconds-1 {
				t.Errorf("stream %d, destination %d: %d streams, %.2f s recorded; want video and audio, %.0f s",
					i, j, len(pr.Streams), d, seconds)
			}
		}
	}
}

func TestRunOurs(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	_, src := testSource(t)
	n := startNginx(t)
	sc := scenario{streams: 1, dests: 2}
	var logs testenv.LogBuffer
	tr, err := runOurs(n.Addr, src, sc, 3, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	// No timing assertions: whether it kept up depends on the machine.
	if tr.bytes <= 0 || tr.cpu <= 0 || tr.wall <= 0 || tr.perRelaySecond() <= 0 {
		t.Errorf("bytes %d, CPU %v over %v: want all positive", tr.bytes, tr.cpu, tr.wall)
	}
	if tr.relays != 2 || tr.seconds != 3 {
		t.Errorf("trial of %d relays, %g s; want 2, 3", tr.relays, tr.seconds)
	}
	checkRecordings(t, n, sc, 3)
	if strings.Contains(logs.String(), "s0_d") {
		t.Errorf("a stream key is in the logs:\n%s", logs.String())
	}
}

// TestRun runs the whole report on a tiny scenario: both sides, each
// against its own nginx, and the max-sustained table.
func TestRun(t *testing.T) {
	path, src := testSource(t)
	testenv.NeedTool(t, "nginx")
	var logs testenv.LogBuffer
	o := options{source: path, ffmpeg: testenv.NeedTool(t, "ffmpeg"), nginx: "nginx",
		scenarios: []scenario{{1, 1}}, seconds: 1, runs: 1, reference: refTee,
		steps: []int{1}, maxSeconds: 1, maxCores: 2, log: logs.Logger()}
	var out bytes.Buffer
	if err := run(&out, o, src); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"1    1x1      ours", "1    1x1      reference", "medians of 1 runs", "max sustained", "largest number of streams sustained"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report+logs.String(), "s0_d0") {
		t.Errorf("a stream key is in the report or the logs:\n%s\n%s", report, logs.String())
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %g, want %g", tc.in, got, tc.want)
		}
	}
}
