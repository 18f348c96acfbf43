package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// metricValue is the value of one series (its name and labels as
// exposed, `name{label="v"}`) in a /metrics body.
func metricValue(body []byte, series string) (float64, bool) {
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// checkMetrics fails the test for each series of want whose value in body
// differs.
func checkMetrics(t *testing.T, body []byte, want map[string]float64) {
	t.Helper()
	for series, v := range want {
		if got, ok := metricValue(body, series); !ok || got != v {
			t.Errorf("%s = %v (exposed: %v), want %v", series, got, ok, v)
		}
	}
}

// TestServeIngestMetrics: a publish with a wrong key and one with the
// right key, real ffmpeg publishers against serve, show in /metrics
// exactly, every reason exposed from the start, and no key.
func TestServeIngestMetrics(t *testing.T) {
	s := startServer(t)
	k := s.createChannel("counted")
	checkMetrics(t, s.get("/metrics"), map[string]float64{
		"livestream_ingest_connections_total":                                      0,
		`livestream_ingest_auth_failures_total{reason="unknown_key"}`:              0,
		`livestream_ingest_refused_connections_total{reason="max_conns"}`:          0,
		`livestream_ingest_refused_connections_total{reason="proxy_header"}`:       0,
		"livestream_ingest_active_publishes":                                       0,
		"livestream_ingest_dropped_packets_total":                                  0,
		`livestream_ingest_refused_connections_total{reason="publish_refused"}`:    0,
		"livestream_ingest_auth_refusals_delayed_total":                            0,
		`livestream_ingest_auth_failures_total{reason="unavailable"}`:              0,
		`livestream_ingest_refused_connections_total{reason="wrong_app"}`:          0,
		`livestream_ingest_refused_connections_total{reason="max_conns_per_addr"}`: 0,
		`livestream_ingest_refused_connections_total{reason="tls_handshake"}`:      0,
		`livestream_ingest_refused_connections_total{reason="untrusted_proxy"}`:    0,
	})

	const wrongKey = "sk_wrongwrongwrongwrongwrongwrong"
	if err := s.publish(wrongKey, 2).wait(t, 15*time.Second); err == nil {
		t.Fatal("a publish with a wrong key succeeded")
	}
	pub := s.publish(k.StreamKey, 4)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		v, _ := metricValue(s.get("/metrics"), "livestream_ingest_active_publishes")
		return v == 1
	}, "one active publish in /metrics")
	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	testenv.WaitFor(t, 10*time.Second, func() bool {
		v, _ := metricValue(s.get("/metrics"), "livestream_ingest_active_publishes")
		return v == 0
	}, "no active publish once ffmpeg is done")

	metrics := s.get("/metrics")
	checkMetrics(t, metrics, map[string]float64{
		"livestream_ingest_connections_total":                                   2,
		`livestream_ingest_auth_failures_total{reason="unknown_key"}`:           1,
		"livestream_ingest_auth_refusals_delayed_total":                         0,
		`livestream_ingest_auth_failures_total{reason="unavailable"}`:           0,
		`livestream_ingest_refused_connections_total{reason="max_conns"}`:       0,
		`livestream_ingest_refused_connections_total{reason="publish_refused"}`: 0,
		// ffmpeg's first video packet is a keyframe: nothing to drop.
		"livestream_ingest_dropped_packets_total": 0,
		"livestream_ingest_active_publishes":      0,
	})
	for _, key := range []string{k.StreamKey, wrongKey} {
		if bytes.Contains(metrics, []byte(key)) {
			t.Errorf("a stream key appears in /metrics")
		}
	}
	if bytes.Contains(metrics, []byte("127.0.0.1")) {
		t.Errorf("a remote address appears in /metrics")
	}
}

// TestServeMaxConnsFlag: `livestream serve --max-conns 1`, run as a user
// would, closes a second RTMP connection at once while ffmpeg publishes on
// the first, counts it in /metrics, and the publish goes on.
func TestServeMaxConnsFlag(t *testing.T) {
	testenv.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, logs: &testenv.LogBuffer{}}
	sc := ServeConfig{
		RTMPAddr: testenv.FreeAddr(t), HTTPAddr: testenv.FreeAddr(t), AdminAddr: testenv.FreeAddr(t),
		AdminToken: "test-admin-token", DataDir: filepath.Join(dir, "data"),
	}
	s.cfg.Serve = sc
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	cmd := exec.Command(bin, "serve", "--config", config, "--max-conns", "1", "--rtmp-addr", sc.RTMPAddr,
		"--http-addr", sc.HTTPAddr, "--admin-addr", sc.AdminAddr, "--data-dir", sc.DataDir, "--log-format", "json")
	cmd.Env = append(os.Environ(), "LIVESTREAM_ADMIN_TOKEN="+sc.AdminToken)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(c.exited) }()
	t.Cleanup(c.kill)
	testenv.WaitFor(t, 15*time.Second, func() bool { code, _ := s.tryGet("/healthz"); return code == 200 }, "the server process's /healthz")

	k := s.createChannel("one connection")
	pub := s.publish(k.StreamKey, 30)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		v, _ := metricValue(s.get("/metrics"), "livestream_ingest_active_publishes")
		return v == 1
	}, "ffmpeg publishing")

	// Refused with a reset, which may reach the dial itself.
	start := time.Now()
	extra, err := net.Dial("tcp", sc.RTMPAddr)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatal(err)
	default:
		defer extra.Close()
		extra.SetReadDeadline(start.Add(2 * time.Second))
		if _, err := extra.Read(make([]byte, 1)); err == nil {
			t.Error("the second connection read a byte: it was served")
		} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the second connection is still open after 2 s")
		}
	}
	t.Logf("second connection refused after %v", time.Since(start).Round(time.Millisecond))

	metrics := s.get("/metrics")
	checkMetrics(t, metrics, map[string]float64{
		"livestream_ingest_connections_total":                             2,
		`livestream_ingest_refused_connections_total{reason="max_conns"}`: 1,
		"livestream_ingest_active_publishes":                              1,
	})
	select {
	case err := <-pub.done:
		pub.done <- err
		t.Errorf("the publish ended when the second connection was refused: %v: %s", err, pub.stderr.String())
	default:
	}
	if bytes.Contains(metrics, []byte(k.StreamKey)) || strings.Contains(s.logs.String(), k.StreamKey) {
		t.Error("the stream key appears in /metrics or the log")
	}
	pub.cmd.Process.Kill()
	pub.done <- <-pub.done // the cleanup waits for it too
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Error("the server did not stop within 20 s of SIGTERM")
	}
}

// TestMaxConnsConfig: --max-conns, LIVESTREAM_MAX_CONNS and serve.max_conns
// all reach the config, which refuses a negative value by name.
func TestMaxConnsConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(file, []byte("serve:\n  max_conns: -3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--max-conns", "-1", "--data-dir", dir},
		{"serve", "--config", file, "--data-dir", dir},
		{"server", "--max-conns", "-2", "--redis-url", "redis://127.0.0.1:1", "--data-dir", dir},
	} {
		code, _, stderr := runCLI(t, args...)
		if code == 0 || !strings.Contains(stderr, "max_conns") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	t.Setenv("LIVESTREAM_MAX_CONNS", "-4")
	code, _, stderr := runCLI(t, "serve", "--data-dir", dir)
	if code != 2 || !strings.Contains(stderr, "max_conns -4") {
		t.Errorf("LIVESTREAM_MAX_CONNS=-4: exit %d: %s", code, stderr)
	}
	cfg, err := loadConfig("")
	if err != nil || cfg.Serve.MaxConns != 1000 {
		t.Errorf("default max_conns %d (%v), want 1000", cfg.Serve.MaxConns, err)
	}
}
