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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process the benchmark started: redis-server, a livestream
// role or the ffmpeg publisher. Its output is kept for the report of a
// failure, with the stream key redacted.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *logBuffer
	exited chan struct{}
}

// start runs bin with args and env added to the benchmark's environment.
func start(name string, env []string, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &logBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop asks the process to end (SIGTERM), and kills it if it has not
// within 10 s; it returns once it has exited.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// alive returns an error naming the process and holding its output if it
// has exited.
func (p *proc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited: %s\n%s", p.name, p.cmd.ProcessState, p.out)
	default:
		return nil
	}
}

// logBuffer is an io.Writer safe for concurrent use, whose String hides
// the secrets given to redact.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	secrets []string
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the start: that is where a failure shows
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *logBuffer) redact(secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, secret)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	for _, secret := range l.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// freeAddr returns a 127.0.0.1 address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitFor polls cond every 50 ms until it is true, a process of procs
// exits, or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() bool, procs ...*proc) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		for _, p := range procs {
			if err := p.alive(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// startRedis runs redis-server on a free port of 127.0.0.1, keeping
// nothing on disk, and waits until it says it is ready.
func startRedis(dir string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := start("redis-server", nil, "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no")
	if err != nil {
		return nil, "", err
	}
	err = waitFor(10*time.Second, "redis-server to accept connections", func() bool {
		return strings.Contains(p.out.String(), "Ready to accept connections")
	}, p)
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}

// channel is what `livestream keys create --json` prints.
type channel struct {
	StreamKey  string `json:"stream_key"`
	PlaybackID string `json:"playback_id"`
}

// createChannel makes a channel in the cluster's Redis with the CLI, as an
// operator would.
func createChannel(bin, redisURL, name string) (channel, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "keys", "create", name, "--json")
	cmd.Env = append(os.Environ(), "LIVESTREAM_REDIS_URL="+redisURL)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return channel{}, fmt.Errorf("livestream keys create: %w\n%s", err, stderr.String())
	}
	var c channel
	if err := json.Unmarshal(out, &c); err != nil || c.StreamKey == "" || c.PlaybackID == "" {
		return channel{}, errors.New("livestream keys create --json: no stream_key and playback_id in its output")
	}
	return c, nil
}

// startRole runs `livestream ROLE args…` against redisURL (given in the
// environment, as the usage asks) and waits for its /healthz on
// healthAddr.
func startRole(bin, redisURL, role, healthAddr string, args ...string) (*proc, error) {
	p, err := start("livestream "+role, []string{"LIVESTREAM_REDIS_URL=" + redisURL}, bin, append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	err = waitFor(20*time.Second, role+"'s /healthz", func() bool {
		code, _, _ := httpGet(context.Background(), "http://"+healthAddr+"/healthz")
		return code == http.StatusOK
	}, p)
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// publish sends a real-time test stream (testsrc and a sine, H.264 with a
// keyframe every 2 s and AAC) of the given size for seconds to rtmpURL,
// whose key is redacted from the publisher's output.
func publish(ffmpeg, rtmpURL, key string, width, height int, seconds float64) (*proc, error) {
	size := strconv.Itoa(width) + "x" + strconv.Itoa(height)
	p, err := start("ffmpeg", nil, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc=size="+size+":rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.FormatFloat(seconds, 'f', 1, 64),
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60",
		"-c:a", "aac", "-b:a", "96k", "-f", "flv", rtmpURL)
	if err != nil {
		return nil, err
	}
	p.out.redact(key)
	return p, nil
}

var quickClient = &http.Client{Timeout: 5 * time.Second}

// httpGet returns the status and body of a GET of url; 0 if it got no
// answer.
func httpGet(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// writeConfig writes the servers' config: the default ladder with 2 s
// segments, a common live setting that makes per-segment figures
// quicker to gather.
func writeConfig(dir string) (string, error) {
	path := filepath.Join(dir, "livestream.yaml")
	return path, os.WriteFile(path, []byte("transcode:\n  segment_duration: 2s\n  keyframe_interval: 2s\n"), 0o644)
}

// monitor writes every command Redis at addr runs, as MONITOR shows it, to
// path until stop is called; secret is redacted. MONITOR itself counts as
// one command ("monitor") and costs Redis a little, so figures are best
// taken without it.
func monitor(addr, path, secret string) (stop func(), err error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := io.WriteString(conn, "MONITOR\r\n"); err != nil {
		conn.Close()
		f.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			fmt.Fprintln(f, strings.ReplaceAll(sc.Text(), secret, "[redacted]"))
		}
	}()
	return func() {
		conn.Close()
		<-done
		f.Close()
	}, nil
}
