package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/origin"
)

// The origin runs in a process of its own, this program started again
// with roleEnv set, so that its CPU time is its own: the viewers and the
// upstream stay in the parent.
const (
	roleEnv     = "LLBENCH_ROLE"
	upstreamEnv = "LLBENCH_UPSTREAM"
	fdsEnv      = "LLBENCH_FDS"
	statsPath   = "/llbench/stats"
)

// isOrigin reports whether this process is the child.
func isOrigin() bool { return os.Getenv(roleEnv) == "origin" }

// runOrigin is the child: origin.NewCluster routing the stream to the
// upstream, on 127.0.0.1, its address printed on stdout; it serves until
// its stdin closes (the parent is done or gone).
func runOrigin() error {
	upstream := os.Getenv(upstreamEnv)
	fds, err := strconv.Atoi(os.Getenv(fdsEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", fdsEnv, err)
	}
	if err := raiseFileLimit(fds); err != nil {
		return err
	}
	c := origin.NewCluster(origin.RouterFunc(func(context.Context, string) (string, error) { return upstream, nil }),
		origin.ClusterOptions{})
	defer c.Close()
	mux := http.NewServeMux()
	mux.Handle("/", c)
	mux.HandleFunc("GET "+statsPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c.Stats())
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	fmt.Println(l.Addr())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// childOrigin is the origin process, seen from the parent.
type childOrigin struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

// startOrigin starts this program again as the origin of upstream, able
// to hold fds connections.
func startOrigin(upstream string, fds int) (*childOrigin, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=origin", upstreamEnv+"="+upstream, fdsEnv+"="+strconv.Itoa(fds))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the origin process: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		cmd.Wait()
		return nil, fmt.Errorf("read the origin's address: %w", err)
	}
	return &childOrigin{cmd: cmd, stdin: stdin, addr: strings.TrimSpace(line)}, nil
}

func (o *childOrigin) stop() error {
	o.stdin.Close()
	return o.cmd.Wait()
}

// stats reads the origin's ClusterStats.
func (o *childOrigin) stats() (origin.ClusterStats, error) {
	var s origin.ClusterStats
	resp, err := http.Get("http://" + o.addr + statsPath)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// cpu is the origin process's user and system CPU time so far.
func (o *childOrigin) cpu() (time.Duration, error) { return testenv.ProcessCPU(o.cmd.Process.Pid) }

// raiseFileLimit raises the soft limit on open files to hold n, up to
// the hard limit (Go raises it to the hard limit at start already; this
// says so when even that is too low).
func raiseFileLimit(n int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= uint64(n) {
		return nil
	}
	lim.Cur = min(uint64(n), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open files limit to %d: %w", n, err)
	}
	if lim.Cur < uint64(n) {
		return errors.New("the open files limit (ulimit -Hn " + strconv.FormatUint(lim.Max, 10) + ") is below the " +
			strconv.Itoa(n) + " the viewers' connections need")
	}
	return nil
}

// machineBusy is the busy and total jiffies of all cores so far, from
// /proc/stat's "cpu" line: what the run had of the machine, other
// processes and the loopback's softirq work included.
func machineBusy() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, s := range f[1:] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i < 8 { // user nice system idle iowait irq softirq steal; guest is in user
			total += n
			if i != 3 && i != 4 {
				busy += n
			}
		}
	}
	return busy, total, nil
}
