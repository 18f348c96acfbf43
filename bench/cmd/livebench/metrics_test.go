package main

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// exposition is a piece of serve's /metrics with the recorder's metrics.
const exposition = `# HELP livestream_record_upload_latency_seconds From a segment handed to the recorder to its object stored, over the recent segments.
# TYPE livestream_record_upload_latency_seconds gauge
livestream_record_upload_latency_seconds{quantile="0.5"} 0.0081
livestream_record_upload_latency_seconds{quantile="0.99"} 0.0212
livestream_record_spool_write_seconds{quantile="0.5"} 0.0022
livestream_record_spool_write_seconds{quantile="0.99"} 0.0098
livestream_record_sessions 0
livestream_record_spool_bytes 1.2e+06
livestream_record_uploaded_segments_total 10
livestream_record_dropped_segments_total 0
livestream_record_uploaded_segments_total_extra 99
`

func TestMetricValue(t *testing.T) {
	for _, c := range []struct {
		name, labels string
		want         float64
		ok           bool
	}{
		{"livestream_record_upload_latency_seconds", `quantile="0.5"`, 0.0081, true},
		{"livestream_record_upload_latency_seconds", `quantile="0.99"`, 0.0212, true},
		{"livestream_record_spool_bytes", "", 1.2e6, true},
		{"livestream_record_uploaded_segments_total", "", 10, true},
		{"livestream_record_upload_latency_seconds", "", 0, false},               // only labelled samples
		{"livestream_record_upload_latency_seconds", `quantile="0.9"`, 0, false}, // labels must match exactly
		{"livestream_record_upload", "", 0, false},                               // a prefix of a name is not the name
		{"livestream_relay_up", "", 0, false},
	} {
		got, ok := metricValue(exposition, c.name, c.labels)
		if got != c.want || ok != c.ok {
			t.Errorf("metricValue(%s{%s}) = %v, %v; want %v, %v", c.name, c.labels, got, ok, c.want, c.ok)
		}
	}
	if _, ok := metricValue("livestream_record_sessions \n", "livestream_record_sessions", ""); ok {
		t.Error("a sample without a value has a value")
	}
	if _, ok := metricValue("livestream_record_sessions many\n", "livestream_record_sessions", ""); ok {
		t.Error("a sample whose value is not a number has a value")
	}
}

func TestReadRecorder(t *testing.T) {
	r, err := readRecorder(exposition, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (recFigures{uploaded: 10, upload50: 0.0081, upload99: 0.0212, spool50: 0.0022, spool99: 0.0098}); r != want {
		t.Errorf("readRecorder = %+v, want %+v", r, want)
	}
	if _, err := readRecorder(exposition, false); err == nil {
		t.Error("recorder metrics from a serve with --record=false: no error")
	}
	if _, err := readRecorder("livestream_live_streams 0\n", false); err != nil {
		t.Errorf("no recorder metrics, recording off: %v", err)
	}
	if _, err := readRecorder("livestream_live_streams 0\n", true); err == nil {
		t.Error("no recorder metrics while recording: no error")
	}
	none := strings.Replace(exposition, "uploaded_segments_total 10", "uploaded_segments_total 0", 1)
	if _, err := readRecorder(none, true); err == nil {
		t.Error("a recording run that uploaded nothing: no error")
	}
}

// TestProc reads this process's peak RSS and the machine's CPU time from
// /proc.
func TestProc(t *testing.T) {
	rss, err := peakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 || rss > 1<<40 {
		t.Errorf("peak RSS of the test: %d bytes", rss)
	}
	busy, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if busy <= 0 {
		t.Errorf("machine busy for %v CPU-s since boot", busy)
	}
	if _, err := peakRSS(-1); err == nil {
		t.Error("peak RSS of pid -1: no error")
	}
}

// FuzzMetricValue: any exposition and name neither panics nor finds a
// value that is not on a line of that name; a sample written for a name
// is found with its value.
func FuzzMetricValue(f *testing.F) {
	f.Add(exposition, "livestream_record_upload_latency_seconds", `quantile="0.5"`, 0.25)
	f.Add(exposition, "livestream_record_sessions", "", 3.0)
	f.Add("x 1\nx{a=\"b\"} 2 1700000000\n", "x", `a="b"`, -1.5)
	f.Add("", "", "", 0.0)
	f.Add("x{} NaN\n", "x", "", math.Inf(1))
	f.Fuzz(func(t *testing.T, text, name, labels string, v float64) {
		got, ok := metricValue(text, name, labels)
		if ok && !strings.Contains(text, name) {
			t.Fatalf("found %v for %q{%s} in a text without the name", got, name, labels)
		}
		if strings.ContainsAny(name+labels, " \n\r\t{}") || name == "" || math.IsNaN(v) {
			return
		}
		line := name + " " + strconv.FormatFloat(v, 'g', -1, 64) + "\n"
		if labels != "" {
			line = name + "{" + labels + "} " + strconv.FormatFloat(v, 'g', -1, 64) + "\n"
		}
		got, ok = metricValue(line+text, name, labels)
		if !ok || got != v {
			t.Fatalf("metricValue(%q, %q, %q) = %v, %v; want %v", line+text, name, labels, got, ok, v)
		}
	})
}
