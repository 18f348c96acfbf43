// Package nginxrtmp starts Debian's nginx with libnginx-mod-rtmp on
// 127.0.0.1: the stand-in RTMP destination (YouTube, Twitch, Facebook) of
// relay's tests and of the copy-relay benchmark. It runs nginx as the current
// user, in a directory of the caller's, as one process (no master, no
// daemon) that the caller stops.
//
// It owns the nginx command line and configuration only; it does not read
// what nginx receives (tests probe the recordings it writes).
package nginxrtmp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ModulePath is where Debian's libnginx-mod-rtmp installs the module.
const ModulePath = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// Application is the one RTMP application the server has: publish to
// rtmp://ADDR/live/NAME.
const Application = "live"

const (
	// defaultConnections is worker_connections when Options leaves it 0:
	// room for a few hundred relays of the benchmark.
	defaultConnections = 1024
	// startTimeout bounds the wait for nginx to accept connections.
	startTimeout = 10 * time.Second
	// stopTimeout bounds the graceful stop before Stop kills nginx.
	stopTimeout = 5 * time.Second
	// freePortTries: a port found free may be taken before nginx binds
	// it; Start then tries another.
	freePortTries = 3
)

// ErrNotInstalled means nginx or its RTMP module is missing: `make deps`
// installs both (apt-get install nginx libnginx-mod-rtmp).
var ErrNotInstalled = errors.New("nginx or its RTMP module is not installed")

// Options configures a server. Zero fields mean defaults.
type Options struct {
	// Dir is nginx's own directory (configuration, pid file, error.log).
	// It must exist; the caller removes it. Required.
	Dir string
	// Addr is the host:port to listen on; "" means a free port on
	// 127.0.0.1.
	Addr string
	// RecordDir, when set, makes the application record every publish to
	// RecordDir/NAME.flv (created if missing). Empty means no recording:
	// nginx still receives and parses every message, without disk I/O.
	RecordDir string
	// Directives are added to the application block as they are, e.g.
	// "deny publish all;".
	Directives string
	// MaxConnections is nginx's worker_connections; 0 means 1024.
	MaxConnections int
	// Nginx is the nginx binary; "" means "nginx" on the PATH.
	Nginx string
	// Module is the RTMP module; "" means ModulePath.
	Module string
}

// Server is a running nginx. Its methods may be called from any goroutine.
type Server struct {
	// Addr is where nginx listens: 127.0.0.1:PORT.
	Addr string
	// RecordDir is Options.RecordDir.
	RecordDir string

	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when nginx has exited and been waited for
}

// Start starts nginx and returns once it accepts connections. The caller
// must Stop or Kill it.
func Start(o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("start nginx: Options.Dir is required")
	}
	if o.Nginx == "" {
		o.Nginx = "nginx"
	}
	bin, err := exec.LookPath(o.Nginx)
	if err != nil {
		return nil, fmt.Errorf("start nginx: %w: %v", ErrNotInstalled, err)
	}
	o.Nginx = bin
	if o.Module == "" {
		o.Module = ModulePath
	}
	if _, err := os.Stat(o.Module); err != nil {
		return nil, fmt.Errorf("start nginx: %w: %v", ErrNotInstalled, err)
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = defaultConnections
	}
	if o.RecordDir != "" {
		if err := os.MkdirAll(o.RecordDir, 0o777); err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
	}
	if o.Addr != "" {
		return start(o)
	}
	for try := 1; ; try++ {
		if o.Addr, err = freeAddr(); err != nil {
			return nil, fmt.Errorf("start nginx: %w", err)
		}
		s, err := start(o)
		if err == nil || !errors.Is(err, errAddrInUse) || try == freePortTries {
			return s, err
		}
	}
}

var errAddrInUse = errors.New("address already in use")

// start runs nginx on o.Addr and waits until it accepts connections.
func start(o Options) (*Server, error) {
	conf := filepath.Join(o.Dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(config(o)), 0o644); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	errorLog := filepath.Join(o.Dir, "error.log")
	// Truncate a previous attempt's log, so that its errors are not ours.
	if err := os.WriteFile(errorLog, nil, 0o644); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	s := &Server{Addr: o.Addr, RecordDir: o.RecordDir, dir: o.Dir, exited: make(chan struct{})}
	// -e: without it nginx first opens /var/log/nginx/error.log, which a
	// user cannot.
	s.cmd = exec.Command(o.Nginx, "-p", o.Dir, "-e", errorLog, "-c", conf)
	// stderr is read only after exited: Wait has finished copying into it.
	var stderr bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, &stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(errorLog)
			msg := string(bytes.TrimSpace(append(log, stderr.Bytes()...)))
			err := fmt.Errorf("start nginx on %s: exited at once: %s", o.Addr, msg)
			if bytes.Contains(log, []byte("Address already in use")) {
				err = fmt.Errorf("start nginx on %s: %w", o.Addr, errAddrInUse)
			}
			return nil, err
		default:
		}
		// Polling is all there is: nginx says nothing when it is ready.
		if s.ready() {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("start nginx on %s: not accepting connections after %v", o.Addr, startTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ready reports whether nginx listens. It writes its pid file only after
// it has bound every listening socket; a connection alone could reach
// another program that holds the port while nginx retries bind(2).
func (s *Server) ready() bool {
	pid, err := os.ReadFile(filepath.Join(s.dir, "nginx.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(s.cmd.Process.Pid) {
		return false
	}
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// config is the nginx.conf of o.
func config(o Options) string {
	record := ""
	if o.RecordDir != "" {
		record = fmt.Sprintf("record all;\n\t\t\trecord_path %s;\n\t\t\trecord_unique off;", o.RecordDir)
	}
	// master_process off: one process, whose CPU time is the server's
	// (its rusage once waited for). chunk_size 4096 as relay and
	// FFmpeg send.
	return fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
worker_rlimit_nofile %d;
pid %s/nginx.pid;
error_log %s/error.log info;
events { worker_connections %d; }
rtmp {
	server {
		listen %s;
		chunk_size 4096;
		application %s {
			live on;
			%s
			%s
		}
	}
}
`, o.Module, 2*o.MaxConnections, o.Dir, o.Dir, o.MaxConnections, o.Addr, Application, record, o.Directives)
}

// Recording is the path of the recording of stream name; only with
// Options.RecordDir, and complete once nginx has stopped.
func (s *Server) Recording(name string) string {
	return filepath.Join(s.RecordDir, name+".flv")
}

// Stop ends nginx as an operator would (SIGQUIT: finish the sessions,
// close the recordings) and waits for it. If it has not exited within 5 s
// it is killed and Stop says so.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
		s.Kill()
		return fmt.Errorf("stop nginx on %s: still running %v after SIGQUIT; killed", s.Addr, stopTimeout)
	}
}

// Kill ends nginx at once, like a crash, and waits for it. It may be
// called any number of times, and after Stop.
func (s *Server) Kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Exited is closed when nginx has exited, for whatever reason.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// CPUTime is the user+system CPU time nginx used in its life; 0 until it
// has exited (Stop or Kill).
func (s *Server) CPUTime() time.Duration {
	select {
	case <-s.exited:
	default:
		return 0
	}
	ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ErrorLog returns nginx's error.log so far, for a failure message.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	return string(b)
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
