package main

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// trial is the outcome of one side's run of a scenario.
type trial struct {
	relays  int     // S·D
	seconds float64 // relayed by each
	// cpu is the side's CPU time: this process (ours) or the ffmpeg
	// processes (reference), over wall.
	cpu, wall time.Duration
	nginxCPU  time.Duration // the destination's, over its own life
	// machineCores is how many of the machine's CPUs were busy during the
	// run, every process included.
	machineCores float64
	// maxLag is how far behind the wall clock feeding fell once the
	// relays published (ours), or an ffmpeg's output fell after its first
	// progress report (reference).
	maxLag                             time.Duration
	bytes, dropped, unsent, reconnects int64  // ours only
	problem                            string // why it did not keep up; "" when it did
}

// perRelaySecond is CPU-seconds per relayed stream-second.
func (t trial) perRelaySecond() float64 {
	return t.cpu.Seconds() / (float64(t.relays) * t.seconds)
}

// cores is the side's mean CPU use in cores.
func (t trial) cores() float64 { return t.cpu.Seconds() / t.wall.Seconds() }

// disturbedCores: when other work on the machine used this much CPU
// during a run, a failure to keep up may be its doing.
const disturbedCores = 0.25

// otherCores is the CPU that neither the side nor nginx used: other work
// on the machine (for the reference, this process's few goroutines too).
func (t trial) otherCores() float64 {
	return max(t.machineCores-t.cores()-t.nginxCPU.Seconds()/t.wall.Seconds(), 0)
}

func printTrial(w io.Writer, run, sc, side string, t trial) {
	kept := "yes"
	if t.problem != "" {
		kept = "no: " + t.problem
	}
	nginx := t.nginxCPU.Seconds() / t.wall.Seconds()
	if side == "" { // the max-sustained table
		fmt.Fprintf(w, "%-7s %14.5f %7.2f %7.2f %7.2f %8.3fs  %s\n", sc, t.perRelaySecond(), t.cores(), nginx, t.machineCores, t.maxLag.Seconds(), kept)
		return
	}
	fmt.Fprintf(w, "%-4s %-8s %-9s %14.5f %7.2f %7.2f %7.2f %8.3fs  %s\n", run, sc, side, t.perRelaySecond(), t.cores(), nginx, t.machineCores, t.maxLag.Seconds(), kept)
}

// summary gathers a scenario's trials, run i of each side at index i.
type summary struct {
	sc        scenario
	ours, ref []trial
}

// ratios are ours/reference of each run: pairs run next to each other.
func (s summary) ratios() []float64 {
	var r []float64
	for i := range min(len(s.ours), len(s.ref)) {
		r = append(r, s.ours[i].perRelaySecond()/s.ref[i].perRelaySecond())
	}
	return r
}

func perRelaySecond(ts []trial) []float64 { return collect(ts, trial.perRelaySecond) }

func nginxCores(ts []trial) []float64 {
	return collect(ts, func(t trial) float64 { return t.nginxCPU.Seconds() / t.wall.Seconds() })
}

func maxLags(ts []trial) []float64 {
	return collect(ts, func(t trial) float64 { return t.maxLag.Seconds() })
}

func keptUp(ts []trial) int {
	n := 0
	for _, t := range ts {
		if t.problem == "" {
			n++
		}
	}
	return n
}

func collect(ts []trial, f func(trial) float64) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = f(t)
	}
	return out
}

// median of xs; 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func joinProblems(ps []string) string { return strings.Join(ps, "; ") }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// nginxVersion and ffmpegVersion name the versions measured.
func nginxVersion(bin string) string {
	out, _ := execOutput(bin, "-v")
	v, _ := strings.CutPrefix(strings.TrimSpace(out), "nginx version: ")
	return v
}

func ffmpegVersion(bin string) string {
	out, _ := execOutput(bin, "-version")
	first, _, _ := strings.Cut(out, "\n")
	first, _, _ = strings.Cut(first, " Copyright")
	return first
}

// execOutput runs a command and returns its stdout and stderr.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
