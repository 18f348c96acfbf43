package main

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

const (
	// nginxStartTimeout bounds the wait for nginx to accept connections.
	nginxStartTimeout = 10 * time.Second
	// nginxStopTimeout bounds the graceful stop before nginx is killed.
	nginxStopTimeout = 5 * time.Second
)

// nginx is Debian's nginx serving root over HTTP on 127.0.0.1, run as the
// current user in a directory of its own, as one process (no master, no
// daemon): one worker, as ours runs on one core when pinned.
type nginx struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// nginxConfig is the configuration of a plain static file server as an
// operator would tune it for hot files: sendfile, keep-alive without a
// per-connection request cap (nginx's default closes a connection after
// 1000 requests; Go's server never does), an open-file cache, no access
// log. It adds the headers ours sends that matter to players, so both
// answer alike.
func nginxConfig(dir, root, addr string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_rlimit_nofile 8192;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/tmp;
	proxy_temp_path %[1]s/tmp;
	fastcgi_temp_path %[1]s/tmp;
	uwsgi_temp_path %[1]s/tmp;
	scgi_temp_path %[1]s/tmp;
	types {
		application/vnd.apple.mpegurl m3u8;
		video/mp2t ts;
	}
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 75s;
	keepalive_requests 1000000000;
	open_file_cache max=1000 inactive=60s;
	open_file_cache_valid 1s;
	server {
		listen %[2]s;
		root %[3]s;
		location ~ \.m3u8$ {
			add_header Cache-Control no-cache;
			add_header Access-Control-Allow-Origin *;
		}
		location ~ \.ts$ {
			add_header Cache-Control max-age=600;
			add_header Access-Control-Allow-Origin *;
		}
	}
}
`, dir, addr, root)
}

// startNginx starts nginx serving root on a free port of 127.0.0.1,
// pinned to core unless it is negative, and returns once it accepts
// connections. dir must exist; the caller removes it, after stop.
func startNginx(bin, dir, root string, core int) (*nginx, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(dir, root, addr)), 0o644); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	errorLog := filepath.Join(dir, "error.log")
	// -e: without it nginx first opens /var/log/nginx/error.log, which a
	// user cannot.
	args := []string{bin, "-p", dir, "-e", errorLog, "-c", conf}
	if core >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(core)}, args...)
	}
	n := &nginx{addr: addr, dir: dir, exited: make(chan struct{})}
	// taskset execs nginx: the process started is nginx itself.
	n.cmd = exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, &stderr
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	deadline := time.Now().Add(nginxStartTimeout)
	for {
		select {
		case <-n.exited:
			log, _ := os.ReadFile(errorLog)
			return nil, fmt.Errorf("start nginx on %s: exited at once: %s", addr, bytes.TrimSpace(append(log, stderr.Bytes()...)))
		default:
		}
		// Polling is all there is: nginx says nothing when it is ready,
		// but writes its pid file once it has bound its sockets.
		if n.ready() {
			return n, nil
		}
		if time.Now().After(deadline) {
			n.kill()
			return nil, fmt.Errorf("start nginx on %s: not accepting connections after %v", addr, nginxStartTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *nginx) ready() bool {
	pid, err := os.ReadFile(filepath.Join(n.dir, "nginx.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(n.cmd.Process.Pid) {
		return false
	}
	c, err := net.DialTimeout("tcp", n.addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// pid is nginx's process id, for its CPU time in /proc.
func (n *nginx) pid() int { return n.cmd.Process.Pid }

// stop ends nginx gracefully (SIGQUIT) and waits, killing it after
// nginxStopTimeout.
func (n *nginx) stop() error {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	t := time.NewTimer(nginxStopTimeout)
	defer t.Stop()
	select {
	case <-n.exited:
		return nil
	case <-t.C:
		n.kill()
		return errors.New("stop nginx: still running after SIGQUIT; killed")
	}
}

func (n *nginx) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// nginxVersion is "nginx/1.22.1", or "nginx" when it does not say.
func nginxVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), "version: "); ok {
		return v
	}
	return "nginx"
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
