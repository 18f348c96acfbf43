package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	rps      float64 // Requests/sec
	p50, p99 time.Duration
	requests int64
	// bytesRead is wrk's "… GB read", rounded to its 3 significant
	// digits: enough to tell full bodies from short ones.
	bytesRead float64
	// socketErrors adds up connect, read, write and timeout errors;
	// non2xx counts answers other than 2xx or 3xx.
	socketErrors, non2xx int64
}

// problem says why r is not a clean run ("" when it is): a server that drops connections
// or answers errors is not serving the file, however fast.
func (r wrkResult) problem() string {
	switch {
	case r.requests == 0:
		return "no requests completed"
	case r.non2xx > 0:
		return fmt.Sprintf("%d non-2xx answers", r.non2xx)
	case r.socketErrors > 0:
		return fmt.Sprintf("%d socket errors", r.socketErrors)
	}
	return ""
}

// wrkCommand is how wrk runs: the command and its arguments, prefixed
// with taskset when it is pinned to a core.
func wrkCommand(wrk string, core int, threads, conns int, d time.Duration, url string) []string {
	args := []string{wrk, "-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency", url}
	if core >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(core)}, args...)
	}
	return args
}

// runWrk runs wrk and parses its report.
func runWrk(args []string) (wrkResult, string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("run %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	r, err := parseWrk(out)
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("read the report of %s: %w", strings.Join(args, " "), err)
	}
	return r, string(out), nil
}

// maxWrkReport bounds what parseWrk reads: wrk's report is under 1 kB
// (without a Lua script), and a line longer than this is not wrk's.
const maxWrkReport = 64 << 10

// parseWrk reads wrk 4's report (with --latency):
//
//	  Latency Distribution
//	     50%    9.87ms
//	     99%   20.00ms
//	  400000 requests in 20.00s, 400.00GB read
//	  Socket errors: connect 0, read 0, write 0, timeout 0
//	  Non-2xx or 3xx responses: 5
//	Requests/sec:  20000.00
//
// Requests/sec, the 50% and 99% latencies and the request count are
// required; the error lines appear only when there were errors.
func parseWrk(out []byte) (wrkResult, error) {
	if len(out) > maxWrkReport {
		return wrkResult{}, fmt.Errorf("report of %d bytes, more than wrk writes", len(out))
	}
	var r wrkResult
	var haveRPS, haveP50, haveP99, haveCount bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		switch {
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.rps, err = parseNumber(f[1])
			haveRPS = true
		case f[0] == "50%" && len(f) == 2:
			r.p50, err = parseLatency(f[1])
			haveP50 = true
		case f[0] == "99%" && len(f) == 2:
			r.p99, err = parseLatency(f[1])
			haveP99 = true
		case len(f) == 6 && f[1] == "requests" && f[2] == "in" && f[5] == "read":
			// 400000 requests in 20.00s, 400.00GB read
			if r.requests, err = strconv.ParseInt(f[0], 10, 64); err == nil {
				r.bytesRead, err = parseSize(f[4])
			}
			haveCount = true
		case f[0] == "Socket" && len(f) == 10 && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for _, i := range []int{3, 5, 7, 9} {
				n, e := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				if e != nil || n < 0 {
					err = fmt.Errorf("socket error count %q", f[i])
					break
				}
				r.socketErrors += n
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:") && len(f) == 5:
			r.non2xx, err = strconv.ParseInt(f[4], 10, 64)
			if err == nil && r.non2xx < 0 {
				err = fmt.Errorf("negative count %d", r.non2xx)
			}
		}
		if err != nil {
			return wrkResult{}, fmt.Errorf("line %q: %w", sc.Text(), err)
		}
	}
	if err := sc.Err(); err != nil {
		return wrkResult{}, err
	}
	if !haveRPS || !haveP50 || !haveP99 || !haveCount {
		return wrkResult{}, errors.New("no Requests/sec, 50%, 99% or request count line (was --latency given?)")
	}
	if r.requests < 0 {
		return wrkResult{}, fmt.Errorf("negative request count %d", r.requests)
	}
	return r, nil
}

// parseNumber parses a non-negative finite decimal.
func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1e18 || v != v {
		return 0, fmt.Errorf("number %q", s)
	}
	return v, nil
}

// latencyUnits are wrk's time units (format_time_us in its units.c).
var latencyUnits = []struct {
	suffix string
	unit   time.Duration
}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}

// parseLatency parses wrk's "9.87ms".
func parseLatency(s string) (time.Duration, error) {
	for _, u := range latencyUnits {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := parseNumber(v)
			// A day bounds any latency of a 20 s run, and keeps the
			// product inside a Duration.
			if err != nil || n*float64(u.unit) > float64(24*time.Hour) {
				return 0, fmt.Errorf("latency %q", s)
			}
			return time.Duration(math.Round(n * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("latency %q: no unit", s)
}

// parseSize parses wrk's binary sizes ("400.00GB", "512.00B").
func parseSize(s string) (float64, error) {
	v, ok := strings.CutSuffix(s, "B")
	if !ok {
		return 0, fmt.Errorf("size %q: no B", s)
	}
	mult := 1.0
	if i := strings.IndexAny(v, "KMGTP"); i >= 0 && i == len(v)-1 {
		mult = map[byte]float64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40, 'P': 1 << 50}[v[i]]
		v = v[:i]
	}
	n, err := parseNumber(v)
	if err != nil {
		return 0, fmt.Errorf("size %q", s)
	}
	return n * mult, nil
}
