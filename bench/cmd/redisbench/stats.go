package main

import (
	"bufio"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// commandStats are Redis's own counts of the commands it ran since it
// started, by command name as INFO commandstats names them ("get",
// "evalsha", "client|setinfo"): exact, whoever sent them.
type commandStats map[string]int64

// Limits on INFO's answer: Redis's longest command name ("client|...",
// "cluster|...") is under 40 bytes, and a line with a few numbers fits many
// times over in maxStatLine; anything longer is not commandstats.
const (
	maxStatLine       = 4 << 10
	maxCommandNameLen = 64
)

// parseCommandStats reads INFO commandstats's answer, lines like
//
//	cmdstat_get:calls=12,usec=40,usec_per_call=3.33,rejected_calls=0,failed_calls=0
//
// and returns the calls of each command. Section headers ("# Commandstats")
// and blank lines are skipped; any other line is an error.
func parseCommandStats(info string) (commandStats, error) {
	stats := commandStats{}
	sc := bufio.NewScanner(strings.NewReader(info))
	sc.Buffer(nil, maxStatLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, fields, ok := strings.Cut(line, ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || name == "" || len(name) > maxCommandNameLen {
			return nil, fmt.Errorf("commandstats: line %.80q is not cmdstat_NAME:FIELDS", line)
		}
		if _, dup := stats[name]; dup {
			return nil, fmt.Errorf("commandstats: %s listed twice", name)
		}
		calls := int64(-1)
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			if k != "calls" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("commandstats: %s calls=%q", name, v)
			}
			calls = n
		}
		if calls < 0 {
			return nil, fmt.Errorf("commandstats: %s has no calls", name)
		}
		stats[name] = calls
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("commandstats: %w", err)
	}
	return stats, nil
}

// since returns the calls of each command made between then and s,
// leaving out the commands that ran no more and those in skip (the
// benchmark's own INFO).
func (s commandStats) since(then commandStats, skip ...string) commandStats {
	d := commandStats{}
	for name, n := range s {
		if n -= then[name]; n > 0 && !slices.Contains(skip, name) {
			d[name] = n
		}
	}
	return d
}

func (s commandStats) total() int64 {
	var n int64
	for _, c := range s {
		n += c
	}
	return n
}

// errNoMetric is returned by metricSum for a metric the text does not
// hold.
var errNoMetric = errors.New("no such metric")

// metricSum adds up the samples of metric name, whatever their labels, in
// Prometheus's text exposition format (a process's /metrics).
func metricSum(text, name string) (float64, error) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, maxStatLine)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			return 0, fmt.Errorf("metrics: line %q has no value", line)
		}
		metric, labels, hasLabels := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		if hasLabels && !strings.HasSuffix(labels, "}") {
			return 0, fmt.Errorf("metrics: line %q: labels not closed", line)
		}
		value, _, _ = strings.Cut(value, " ") // a timestamp may follow
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: %s value %q", name, value)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("metrics: %s: %w", name, errNoMetric)
	}
	return sum, nil
}
