package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The ways the ffmpeg CLI relays a stream to D destinations, as people
// restream today.
const (
	// refTee: one ffmpeg per stream, its D outputs through the tee muxer
	// (one demux, one mux per destination): the cheapest for D > 1.
	refTee = "tee"
	// refOutputs: one ffmpeg per stream with D separate flv outputs.
	refOutputs = "outputs"
	// refProcesses: one ffmpeg per destination, each reading the file.
	refProcesses = "processes"
)

var referenceModes = []string{refTee, refOutputs, refProcesses}

// describeReference says in a line what mode runs.
func describeReference(mode string) string {
	switch mode {
	case refTee:
		return "one ffmpeg per stream; D > 1 through the tee muxer (-f tee \"[f=flv]URL1|[f=flv]URL2…\")"
	case refOutputs:
		return "one ffmpeg per stream with D flv outputs (-map 0 -c copy -f flv URL, D times)"
	case refProcesses:
		return "one ffmpeg per destination"
	}
	return mode
}

// referenceArgs returns the command lines, one per ffmpeg process, that
// relay stream i of sc from src for seconds in mode. Each reads the file
// at its native rate (-re) in a loop, copying (-c copy).
func referenceArgs(mode, src, addr string, i, dests int, seconds float64) [][]string {
	input := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-progress", "pipe:1", "-re", "-stream_loop", "-1",
		"-t", strconv.FormatFloat(seconds, 'f', -1, 64), "-i", src}
	var urls []string
	for j := range dests {
		urls = append(urls, destURL(addr, i, j))
	}
	flv := func(url string) []string { return []string{"-map", "0", "-c", "copy", "-f", "flv", url} }
	switch {
	case mode == refProcesses:
		var cmds [][]string
		for _, u := range urls {
			cmds = append(cmds, slices.Concat(input, flv(u)))
		}
		return cmds
	case mode == refTee && dests > 1:
		var outs []string
		for _, u := range urls {
			outs = append(outs, "[f=flv]"+u)
		}
		return [][]string{slices.Concat(input, []string{"-map", "0", "-c", "copy", "-f", "tee", strings.Join(outs, "|")})}
	default: // refOutputs, and refTee to one destination
		args := input
		for _, u := range urls {
			args = slices.Concat(args, flv(u))
		}
		return [][]string{args}
	}
}

// runReference relays sc to the RTMP server at addr with the ffmpeg CLI
// in mode, and measures the processes' CPU (their rusage once waited for).
// A process keeps up when it ends successfully and its output never falls
// more than maxLag behind the wall clock, by its -progress reports.
func runReference(ffmpeg, src, addr string, sc scenario, seconds float64, mode string) (trial, error) {
	t := trial{relays: sc.streams * sc.dests, seconds: seconds}
	type result struct {
		cpu, lag time.Duration
		err      error
	}
	var cmds [][]string
	for i := range sc.streams {
		cmds = append(cmds, referenceArgs(mode, src, addr, i, sc.dests, seconds)...)
	}
	wall0 := time.Now()
	results := make(chan result, len(cmds))
	var startErr error
	started := 0
	for _, args := range cmds {
		cmd := exec.Command(ffmpeg, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			startErr = fmt.Errorf("start ffmpeg: %w", err)
			break
		}
		started++
		go func() {
			var p progress
			lines := bufio.NewScanner(stdout)
			for lines.Scan() {
				p.add(lines.Text(), time.Now())
			}
			err := cmd.Wait() // after reading all: Wait closes stdout
			r := result{lag: p.lag}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			switch {
			case err != nil:
				// ffmpeg's messages quote the URLs, and so the keys.
				r.err = fmt.Errorf("%v: %s", err, scrubURLs(stderr.String(), addr))
			case p.reports < 2:
				r.err = fmt.Errorf("%d progress reports", p.reports)
			}
			results <- r
		}()
	}
	var errs []string
	for range started {
		r := <-results
		t.cpu += r.cpu
		t.maxLag = max(t.maxLag, r.lag)
		if r.err != nil {
			errs = append(errs, r.err.Error())
		}
	}
	t.wall = time.Since(wall0)
	if startErr != nil {
		return t, startErr
	}
	var problems []string
	if len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("%d ffmpeg failed: %s", len(errs), strings.TrimSpace(errs[0])))
	}
	if t.maxLag >= maxLag {
		problems = append(problems, fmt.Sprintf("output %.2f s behind", t.maxLag.Seconds()))
	}
	t.problem = joinProblems(problems)
	return t, nil
}

// progress follows ffmpeg's -progress reports: blocks of key=value lines,
// each ending with "progress=continue" (or "end"). The lag is how far the
// output time fell behind the wall clock since the first report, so that
// ffmpeg's start-up (probing, connecting) does not count, as ours starts
// counting once its relays publish.
type progress struct {
	reports int
	// outTime is the current block's out_time_us; valid if known.
	outTime int64
	known   bool
	// at0 and out0 are the wall clock and output time of the first report.
	at0  time.Time
	out0 int64
	lag  time.Duration
}

// maxOutTime bounds the out_time_us taken, so that differences of two fit
// a time.Duration: about 31 years.
const maxOutTime = 1e15

// add takes one line of the reports, read at the time at.
func (p *progress) add(line string, at time.Time) {
	key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
	if !ok {
		return
	}
	switch key {
	case "out_time_us":
		// "N/A" before the first packet; negative at first with B-frames.
		us, err := strconv.ParseInt(value, 10, 64)
		p.outTime, p.known = us, err == nil && us >= -maxOutTime && us <= maxOutTime
	case "progress":
		if !p.known {
			return
		}
		if p.reports == 0 {
			p.at0, p.out0 = at, p.outTime
		}
		p.reports++
		out := time.Duration(p.outTime-p.out0) * time.Microsecond
		p.lag = max(p.lag, at.Sub(p.at0)-out)
		p.known = false
	}
}

// scrubURLs replaces the stream names (the keys) of URLs to addr in msg.
func scrubURLs(msg, addr string) string {
	prefix := "rtmp://" + addr + "/live/"
	var b strings.Builder
	for {
		i := strings.Index(msg, prefix)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+len(prefix)])
		b.WriteString("[redacted]")
		msg = msg[i+len(prefix):]
		end := strings.IndexFunc(msg, func(r rune) bool {
			return r == ' ' || r == '\n' || r == '\'' || r == '"' || r == ':' || r == '|' || r == ']'
		})
		if end < 0 {
			end = len(msg)
		}
		msg = msg[end:]
	}
}
