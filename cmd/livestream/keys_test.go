package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livestream/livestream/registry"
)

// clearKeysEnv keeps the environment of whoever runs the tests out of them.
func clearKeysEnv(t *testing.T) {
	for _, v := range []string{"LIVESTREAM_DATA_DIR", "LIVESTREAM_ADMIN_URL", "LIVESTREAM_ADMIN_TOKEN", "LIVESTREAM_JSON", "LIVESTREAM_REDIS_URL"} {
		t.Setenv(v, "")
	}
}

// issued is what `keys create --json` and `keys rotate --json` print.
type issued struct {
	ChannelID  string `json:"channel_id"`
	Name       string `json:"name"`
	StreamKey  string `json:"stream_key"`
	PlaybackID string `json:"playback_id"`
}

// keysJSON runs a keys command that prints an issued key as JSON.
func keysJSON(t *testing.T, args ...string) issued {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"keys"}, args...)...)
	if code != 0 || stderr != "" {
		t.Fatalf("keys %v: exit %d, stderr %q", args, code, stderr)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(stdout), &fields); err != nil {
		t.Fatalf("keys %v printed %q: %v", args, stdout, err)
	}
	if len(fields) != 4 {
		t.Errorf("keys %v --json printed %d fields, want channel_id, name, stream_key, playback_id: %s", args, len(fields), stdout)
	}
	var k issued
	json.Unmarshal([]byte(stdout), &k)
	return k
}

// authenticate opens the registry file under dir and authenticates key.
func authenticate(t *testing.T, dir, key string) (registry.Channel, error) {
	t.Helper()
	s, err := registry.OpenFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Authenticate(context.Background(), key)
}

func TestKeysDataDir(t *testing.T) {
	clearKeysEnv(t)
	dir := filepath.Join(t.TempDir(), "data")

	k := keysJSON(t, "create", "My show", "--json", "--data-dir", dir)
	if k.Name != "My show" || !strings.HasPrefix(k.ChannelID, "ch_") || !strings.HasPrefix(k.StreamKey, "sk_") || len(k.PlaybackID) != 16 {
		t.Fatalf("create --json: %+v", k)
	}
	if c, err := authenticate(t, dir, k.StreamKey); err != nil || c.ID != k.ChannelID {
		t.Fatalf("the printed key does not authenticate: %+v, %v", c, err)
	}

	// Without --json: the key, the publish URL and the viewer URLs.
	code, stdout, stderr := runCLI(t, "keys", "create", "--data-dir", dir, "Second")
	if code != 0 || stderr != "" {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	key := fieldAfter(t, stdout, "Publish to:")
	key = strings.TrimPrefix(key, "rtmp://localhost:1935/stream/")
	pid := strings.TrimPrefix(fieldAfter(t, stdout, "Watch:"), "http://localhost:8080/watch/")
	if c, err := authenticate(t, dir, key); err != nil || c.Name != "Second" || c.PlaybackID != pid {
		t.Fatalf("create printed a key %q or playback id %q that do not match the registry: %+v, %v\n%s", key, pid, c, err, stdout)
	}
	for _, want := range []string{"secret", "\n  " + key + "\n", "Playback id:  " + pid,
		"HLS:          http://localhost:8080/hls/" + pid + "/live.m3u8"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("create's output lacks %q:\n%s", want, stdout)
		}
	}

	// list, as a table and as JSON: every channel, no key.
	code, stdout, _ = runCLI(t, "keys", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, k.ChannelID) || !strings.Contains(stdout, "My show") || !strings.Contains(stdout, pid) {
		t.Errorf("list: exit %d:\n%s", code, stdout)
	}
	code, listJSON, _ := runCLI(t, "keys", "list", "--json", "--data-dir", dir)
	var cs []registry.Channel
	if err := json.Unmarshal([]byte(listJSON), &cs); code != 0 || err != nil || len(cs) != 2 || cs[0].ID != k.ChannelID {
		t.Errorf("list --json: exit %d, %v:\n%s", code, err, listJSON)
	}
	for _, out := range []string{stdout, listJSON} {
		if strings.Contains(out, k.StreamKey) || strings.Contains(out, key) || strings.Contains(out, "sk_") {
			t.Errorf("list prints a stream key:\n%s", out)
		}
	}

	// rotate: a new key; the old one stops working.
	r := keysJSON(t, "rotate", k.ChannelID, "--data-dir", dir, "--json")
	if r.ChannelID != k.ChannelID || r.StreamKey == k.StreamKey || r.PlaybackID != k.PlaybackID {
		t.Errorf("rotate --json: %+v", r)
	}
	if _, err := authenticate(t, dir, k.StreamKey); !errors.Is(err, registry.ErrUnknownKey) {
		t.Errorf("old key after rotate: %v", err)
	}
	if _, err := authenticate(t, dir, r.StreamKey); err != nil {
		t.Errorf("new key after rotate: %v", err)
	}

	// revoke, then the channel is gone and revoking again fails.
	code, stdout, stderr = runCLI(t, "keys", "revoke", k.ChannelID, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "revoked "+k.ChannelID) || stderr != "" {
		t.Errorf("revoke: exit %d: %q %q", code, stdout, stderr)
	}
	if _, err := authenticate(t, dir, r.StreamKey); !errors.Is(err, registry.ErrUnknownKey) {
		t.Errorf("key of a revoked channel: %v", err)
	}
	code, _, stderr = runCLI(t, "keys", "revoke", k.ChannelID, "--data-dir", dir)
	if code != 1 || !strings.Contains(stderr, "no such channel") {
		t.Errorf("revoking twice: exit %d: %q", code, stderr)
	}

	// The registry file holds no key.
	data, err := os.ReadFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{k.StreamKey, key, r.StreamKey} {
		if strings.Contains(string(data), key) {
			t.Errorf("channels.json holds a stream key")
		}
	}
}

// fieldAfter returns the first word after label in out.
func fieldAfter(t *testing.T, out, label string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, label)
	f := strings.Fields(rest)
	if !ok || len(f) == 0 {
		t.Fatalf("no %q in:\n%s", label, out)
	}
	return f[0]
}

func TestKeysEnvironment(t *testing.T) {
	clearKeysEnv(t)
	dir := t.TempDir()
	t.Setenv("LIVESTREAM_DATA_DIR", dir)
	t.Setenv("LIVESTREAM_JSON", "true")
	k := keysJSON(t, "create", "from env")
	if _, err := authenticate(t, dir, k.StreamKey); err != nil {
		t.Fatalf("LIVESTREAM_DATA_DIR not used: %v", err)
	}
	// The command line wins over the environment.
	other := t.TempDir()
	keysJSON(t, "create", "from flag", "--data-dir", other)
	if code, stdout, _ := runCLI(t, "keys", "list", "--data-dir", other, "--json=false"); code != 0 || !strings.Contains(stdout, "from flag") || strings.Contains(stdout, "from env") || strings.HasPrefix(stdout, "[") {
		t.Errorf("flags did not override the environment: %s", stdout)
	}

	t.Setenv("LIVESTREAM_JSON", "maybe")
	if code, _, stderr := runCLI(t, "keys", "list"); code != 1 || !strings.Contains(stderr, "LIVESTREAM_JSON") {
		t.Errorf("bad LIVESTREAM_JSON: exit %d: %s", code, stderr)
	}
}

func TestKeysAdminURL(t *testing.T) {
	clearKeysEnv(t)
	dir := t.TempDir()
	s, err := registry.OpenFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const token = "cli-test-token"
	srv := httptest.NewServer(registry.AdminHandler(s, token, nil))
	defer srv.Close()

	k := keysJSON(t, "create", "remote", "--json", "--admin-url", srv.URL, "--admin-token", token)
	if c, err := s.Authenticate(context.Background(), k.StreamKey); err != nil || c.Name != "remote" {
		t.Fatalf("key made through the admin API: %+v, %v", c, err)
	}
	t.Setenv("LIVESTREAM_ADMIN_URL", srv.URL)
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", token)
	r := keysJSON(t, "rotate", k.ChannelID, "--json")
	if _, err := s.Authenticate(context.Background(), r.StreamKey); err != nil {
		t.Errorf("rotated through LIVESTREAM_ADMIN_URL: %v", err)
	}
	if code, stdout, _ := runCLI(t, "keys", "list"); code != 0 || !strings.Contains(stdout, k.ChannelID) {
		t.Errorf("list through the admin API: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "keys", "revoke", k.ChannelID); code != 0 {
		t.Errorf("revoke through the admin API: exit %d: %s", code, stderr)
	}
	if cs, _ := s.List(context.Background()); len(cs) != 0 {
		t.Errorf("revoke through the admin API left %d channels", len(cs))
	}

	const wrong = "wrong-token-5678"
	code, stdout, stderr := runCLI(t, "keys", "create", "x", "--admin-token", wrong)
	if code != 1 || !strings.Contains(stderr, "admin token rejected") || stdout != "" {
		t.Errorf("wrong token: exit %d: %q", code, stderr)
	}
	if strings.Contains(stderr, wrong) || strings.Contains(stderr, token) {
		t.Errorf("the error prints a token: %s", stderr)
	}
	srv.Close()
	code, _, stderr = runCLI(t, "keys", "list")
	if code != 1 || !strings.Contains(stderr, "connection refused") {
		t.Errorf("server gone: exit %d: %q", code, stderr)
	}
}

func TestKeysUsage(t *testing.T) {
	clearKeysEnv(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys"}, 2, "Usage"},
		{[]string{"keys", "frob"}, 2, `unknown command "frob"`},
		{[]string{"keys", "create"}, 2, "Usage: livestream keys create NAME"},
		{[]string{"keys", "create", "a", "b"}, 2, "Usage"},
		{[]string{"keys", "rotate"}, 2, "Usage: livestream keys rotate ID"},
		{[]string{"keys", "list", "extra"}, 2, "Usage"},
		{[]string{"keys", "revoke", "x", "--json"}, 2, "not defined"},
		{[]string{"keys", "list", "--data-dir", dir, "--admin-token", "t"}, 1, "--admin-token needs --admin-url"},
		{[]string{"keys", "list", "--admin-url", "http://127.0.0.1:1"}, 1, "--admin-url needs --admin-token"},
		{[]string{"keys", "list", "--admin-url", "http://127.0.0.1:1", "--admin-token", "t", "--data-dir", dir}, 1, "not both"},
		{[]string{"keys", "create", "a\tb", "--data-dir", dir}, 1, "invalid channel name"},
		{[]string{"keys", "rotate", "ch_nonexistent", "--data-dir", dir}, 1, "no such channel"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if code, stdout, _ := runCLI(t, "keys", "help"); code != 0 || !strings.Contains(stdout, "keys rotate ID") {
		t.Errorf("keys help: exit %d: %s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, "help"); code != 0 || !strings.Contains(stdout, "livestream keys") {
		t.Errorf("the usage text lacks the keys command:\n%s", stdout)
	}
}
