package main

import (
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestRunReference(t *testing.T) {
	path, _ := testSource(t)
	n := startNginx(t)
	sc := scenario{streams: 1, dests: 2}
	tr, err := runReference(testenv.NeedTool(t, "ffmpeg"), path, n.Addr, sc, 2, refTee)
	if err != nil {
		t.Fatal(err)
	}
	if tr.cpu <= 0 || tr.relays != 2 {
		t.Errorf("CPU %v for %d relays: want positive, 2", tr.cpu, tr.relays)
	}
	if strings.Contains(tr.problem, "ffmpeg failed") {
		t.Errorf("problem: %s", tr.problem)
	}
	checkRecordings(t, n, sc, 2)
}

func TestReferenceArgs(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		dests      int
		procs      int
		wantInLast string
	}{
		{refTee, 1, 1, "-f flv rtmp://A/live/s2_d0"},
		{refTee, 3, 1, "-f tee [f=flv]rtmp://A/live/s2_d0|[f=flv]rtmp://A/live/s2_d1|[f=flv]rtmp://A/live/s2_d2"},
		{refOutputs, 2, 1, "-f flv rtmp://A/live/s2_d0 -map 0 -c copy -f flv rtmp://A/live/s2_d1"},
		{refProcesses, 3, 3, "-f flv rtmp://A/live/s2_d2"},
	} {
		cmds := referenceArgs(tc.mode, "src.flv", "A", 2, tc.dests, 5)
		if len(cmds) != tc.procs {
			t.Errorf("%s with %d destinations: %d processes, want %d", tc.mode, tc.dests, len(cmds), tc.procs)
			continue
		}
		last := strings.Join(cmds[len(cmds)-1], " ")
		if !strings.Contains(last, tc.wantInLast) || !strings.Contains(last, "-progress pipe:1 -re -stream_loop -1 -t 5 -i src.flv") {
			t.Errorf("%s with %d destinations: %q, want -re … -i src.flv … %q", tc.mode, tc.dests, last, tc.wantInLast)
		}
	}
}

func TestScrubURLs(t *testing.T) {
	msg := "[flv @ 0x1] rtmp://127.0.0.1:1/live/s3_d7: Connection refused\n[tee] Slave '[f=flv]rtmp://127.0.0.1:1/live/s3_d8|x': failed"
	got := scrubURLs(msg, "127.0.0.1:1")
	if strings.Contains(got, "s3_d") || strings.Count(got, "[redacted]") != 2 || !strings.Contains(got, "Connection refused") {
		t.Errorf("scrubURLs = %q", got)
	}
}

func TestProgress(t *testing.T) {
	var p progress
	t0 := time.Unix(1000, 0)
	block := func(at time.Duration, outTime string) {
		for _, l := range []string{"frame=1", "out_time_us=" + outTime, "out_time=00:00:00.000000", "speed=1x", "progress=continue"} {
			p.add(l, t0.Add(at))
		}
	}
	block(0, "N/A") // before the first packet: not a report
	block(100*time.Millisecond, "-66000")
	block(600*time.Millisecond, "434000")   // on time
	block(1100*time.Millisecond, "734000")  // 0.2 s behind
	block(1600*time.Millisecond, "1434000") // caught up
	if p.reports != 4 || p.lag != 200*time.Millisecond {
		t.Errorf("%d reports, lag %v; want 4, 200ms", p.reports, p.lag)
	}
}

func FuzzProgress(f *testing.F) {
	f.Add("out_time_us=0\nprogress=continue\nout_time_us=500000\nprogress=continue\nout_time_us=N/A\nprogress=end\n", uint16(500))
	f.Add("out_time_us=1000000000000000\nprogress=continue\nout_time_us=-1000000000000000\nprogress=continue\n", uint16(1))
	f.Add("progress=continue\n=\nout_time_us\n", uint16(0))
	f.Fuzz(func(t *testing.T, text string, stepMs uint16) {
		var p progress
		t0 := time.Unix(1000, 0)
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			p.add(l, t0.Add(time.Duration(i)*time.Duration(stepMs)*time.Millisecond))
		}
		if p.lag < 0 || p.reports > strings.Count(text, "progress=") {
			t.Fatalf("lag %v, %d reports of %q", p.lag, p.reports, text)
		}
	})
}
