package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// commandStatsCases drive TestParseCommandStats and seed
// FuzzParseCommandStats; want nil means an error.
var commandStatsCases = []struct {
	info string
	want commandStats
}{
	{"# Commandstats\r\ncmdstat_get:calls=12,usec=40,usec_per_call=3.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_evalsha:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n",
		commandStats{"get": 12, "evalsha": 3, "client|setinfo": 2}},
	{"# Commandstats\r\n", commandStats{}},
	{"", commandStats{}},
	{"cmdstat_info:calls=0", commandStats{"info": 0}},
	{"cmdstat_get:usec=4", nil},
	{"cmdstat_get:calls=-1", nil},
	{"cmdstat_get:calls=x", nil},
	{"cmdstat_:calls=1", nil},
	{"get:calls=1", nil},
	{"cmdstat_get:calls=1\ncmdstat_get:calls=2", nil},
	{"cmdstat_get" + strings.Repeat("x", maxStatLine) + ":calls=1", nil},
}

func TestParseCommandStats(t *testing.T) {
	for _, c := range commandStatsCases {
		got, err := parseCommandStats(c.info)
		if c.want == nil {
			if err == nil {
				t.Errorf("parseCommandStats(%.60q) = %v, want an error", c.info, got)
			}
			continue
		}
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("parseCommandStats(%.60q) = %v, %v; want %v", c.info, got, err, c.want)
		}
	}
}

// formatCommandStats writes stats as INFO commandstats does.
func formatCommandStats(s commandStats) string {
	var b strings.Builder
	b.WriteString("# Commandstats\r\n")
	for _, name := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "cmdstat_%s:calls=%d,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n", name, s[name])
	}
	return b.String()
}

// FuzzParseCommandStats checks that what parseCommandStats accepts
// formats back to the same counts, none negative.
func FuzzParseCommandStats(f *testing.F) {
	for _, c := range commandStatsCases {
		f.Add(c.info)
	}
	f.Fuzz(func(t *testing.T, info string) {
		s, err := parseCommandStats(info)
		if err != nil {
			return
		}
		for name, n := range s {
			if n < 0 || name == "" {
				t.Fatalf("%q: calls %d", name, n)
			}
		}
		again, err := parseCommandStats(formatCommandStats(s))
		if err != nil || !maps.Equal(again, s) {
			t.Fatalf("round trip of %v: %v, %v", s, again, err)
		}
	})
}

func TestCommandStatsSince(t *testing.T) {
	then := commandStats{"get": 10, "info": 4, "exec": 3}
	now := commandStats{"get": 25, "info": 6, "exec": 3, "evalsha": 2}
	got := now.since(then, "info")
	if want := (commandStats{"get": 15, "evalsha": 2}); !maps.Equal(got, want) {
		t.Errorf("since = %v, want %v", got, want)
	}
	if got.total() != 17 {
		t.Errorf("total = %d, want 17", got.total())
	}
}

// metricCases drive TestMetricSum and seed FuzzMetricSum: the sum of
// livestream_origin_fetches_total, or an error (err true).
var metricCases = []struct {
	text string
	want float64
	err  bool
}{
	{"# HELP livestream_origin_fetches_total Requests.\n# TYPE livestream_origin_fetches_total counter\n" +
		"livestream_origin_fetches_total{kind=\"master\"} 2\nlivestream_origin_fetches_total{kind=\"segment\"} 40\n" +
		"livestream_origin_fetches_total_other 7\nlivestream_origin_route_lookups_total 5\n", 42, false},
	{"livestream_origin_fetches_total 3 1764000000000\n", 3, false},
	{"livestream_origin_fetches_total 1e3\n", 1000, false},
	{"livestream_origin_route_lookups_total 5\n", 0, true},
	{"livestream_origin_fetches_total\n", 0, true},
	{"livestream_origin_fetches_total{kind=\"x\" 1\n", 0, true},
	{"livestream_origin_fetches_total x\n", 0, true},
	{"", 0, true},
}

func TestMetricSum(t *testing.T) {
	for _, c := range metricCases {
		got, err := metricSum(c.text, "livestream_origin_fetches_total")
		if (err != nil) != c.err || got != c.want {
			t.Errorf("metricSum(%.60q) = %v, %v; want %v (error %v)", c.text, got, err, c.want, c.err)
		}
	}
	if _, err := metricSum("other 1\n", "livestream_origin_fetches_total"); !errors.Is(err, errNoMetric) {
		t.Errorf("metricSum of a metric not there: %v, want errNoMetric", err)
	}
}

// FuzzMetricSum checks that a sample appended to any text metricSum
// accepts adds to the sum.
func FuzzMetricSum(f *testing.F) {
	for _, c := range metricCases {
		f.Add(c.text)
	}
	const name = "livestream_origin_fetches_total"
	f.Fuzz(func(t *testing.T, text string) {
		sum, err := metricSum(text, name)
		if err != nil || strings.ContainsAny(text, "\r") || strings.Contains(text, "\n\n") || len(text) > maxStatLine {
			return
		}
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		more, err := metricSum(text+name+`{kind="added"} 1`+"\n", name)
		if err != nil || more != sum+1 && !(sum != sum) { // NaN stays NaN
			t.Fatalf("with one more sample: %v, %v; want %v", more, err, sum+1)
		}
	})
}

func TestSplitRoundTrips(t *testing.T) {
	// 3 heartbeats, 2 route refreshes (one the first EVAL), 5 origin GETs,
	// 4 pings.
	c := commandStats{"multi": 3, "set": 5, "sadd": 3, "exec": 3, "evalsha": 1, "eval": 1, "get": 7, "ping": 4}
	rt := splitRoundTrips(c)
	if rt.heartbeats != 3 || rt.routes != 2 || rt.lookups != 5 || rt.pings != 4 || len(rt.other) != 0 || rt.server() != 5 {
		t.Errorf("splitRoundTrips(%v) = %+v", c, rt)
	}
	c["hget"], c["set"] = 1, 6
	if rt := splitRoundTrips(c); rt.other["hget"] != 1 || len(rt.other) != 2 {
		t.Errorf("with an HGET and a SET not explained: other = %v", rt.other)
	}
}
