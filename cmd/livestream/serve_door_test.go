package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDoorConfig: --rtmps-addr, --tls-cert, --tls-key and
// --max-conns-per-addr, their LIVESTREAM_* variables and their serve:
// keys all reach the config of serve and server, which refuses what
// cannot work by the key's name.
func TestDoorConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(file, []byte("serve:\n  rtmps_addr: \":0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	perAddr := filepath.Join(dir, "per-addr.yaml")
	if err := os.WriteFile(perAddr, []byte("serve:\n  max_conns_per_addr: -7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	redis := "--redis-url=redis://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--rtmps-addr", ":0", "--data-dir", dir}, nil, "rtmps_addr: needs tls_cert and tls_key"},
		{[]string{"serve", "--rtmps-addr", ":0", "--tls-cert", "c.pem", "--data-dir", dir}, nil, "rtmps_addr: needs tls_cert and tls_key"},
		{[]string{"serve", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--data-dir", dir}, nil, "rtmps_addr is not"},
		{[]string{"serve", "--config", file, "--data-dir", dir}, nil, "rtmps_addr: needs"},
		{[]string{"serve", "--data-dir", dir}, map[string]string{"LIVESTREAM_RTMPS_ADDR": ":0"}, "rtmps_addr: needs"},
		{[]string{"serve", "--data-dir", dir}, map[string]string{"LIVESTREAM_TLS_KEY": "k.pem"}, "rtmps_addr is not"},
		{[]string{"serve", "--max-conns-per-addr", "-2", "--data-dir", dir}, nil, "max_conns_per_addr -2"},
		{[]string{"serve", "--data-dir", dir}, map[string]string{"LIVESTREAM_MAX_CONNS_PER_ADDR": "-3"}, "max_conns_per_addr -3"},
		{[]string{"serve", "--config", perAddr, "--data-dir", dir}, nil, "max_conns_per_addr -7"},
		{[]string{"server", redis, "--rtmps-addr", ":0", "--data-dir", dir}, nil, "rtmps_addr: needs"},
		{[]string{"server", redis, "--max-conns-per-addr", "-4", "--data-dir", dir}, nil, "max_conns_per_addr -4"},
		{[]string{"proxy", redis, "--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, "rtmps_addr is not"},
		{[]string{"proxy", redis, "--max-conns-per-addr", "-5"}, nil, "max_conns_per_addr -5"},
		// Files that do not exist: the certificate is loaded at start.
		{[]string{"serve", "--rtmps-addr", "127.0.0.1:0", "--tls-cert", filepath.Join(dir, "no.pem"), "--tls-key", filepath.Join(dir, "no-key.pem"),
			"--rtmp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", dir, "--record=false"}, nil, "no.pem"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runCLI(t, tc.args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, stderr, tc.want)
			}
		})
	}
	cfg, err := loadConfig("")
	if err != nil || cfg.Serve.MaxConnsPerAddr != 8 || cfg.Serve.RTMPSAddr != "" {
		t.Errorf("defaults: max_conns_per_addr %d, rtmps_addr %q (%v); want 8 and none", cfg.Serve.MaxConnsPerAddr, cfg.Serve.RTMPSAddr, err)
	}
}
