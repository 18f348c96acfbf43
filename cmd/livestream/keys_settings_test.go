package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// settingsJSON runs `keys settings ... --json` and returns the channel it
// printed.
func settingsJSON(t *testing.T, args ...string) registry.Channel {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"keys", "settings", "--json"}, args...)...)
	if code != 0 || stderr != "" {
		t.Fatalf("keys settings %v: exit %d, stderr %q", args, code, stderr)
	}
	var c registry.Channel
	if err := json.Unmarshal([]byte(stdout), &c); err != nil || c.ID == "" {
		t.Fatalf("keys settings %v printed %q: %v", args, stdout, err)
	}
	return c
}

// windowOf is the channel's window, or -1 for the server's.
func windowOf(c registry.Channel) time.Duration { return c.Settings.ReconnectWindowOr(-1) }

func TestKeysSettingsDataDir(t *testing.T) {
	clearKeysEnv(t)
	// A server's settings exported in the same shell are not a channel's.
	t.Setenv("LIVESTREAM_RECONNECT_WINDOW", "5s")
	t.Setenv("LIVESTREAM_KEEP_ON_UNPUBLISH", "true")
	dir := t.TempDir()
	ctx := context.Background()
	s, err := registry.OpenFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var heard []registry.Change
	defer s.Subscribe(func(c registry.Change) { mu.Lock(); heard = append(heard, c); mu.Unlock() })()
	ch, _, err := s.Create(ctx, "Show")
	if err != nil {
		t.Fatal(err)
	}

	// Shown, not changed, without a setting.
	code, stdout, stderr := runCLI(t, "keys", "settings", ch.ID, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "reconnect window:   the server's") || !strings.Contains(stdout, "clean unpublish:    ends the stream at once") {
		t.Errorf("settings of a new channel: exit %d:\n%s%s", code, stdout, stderr)
	}
	if c := settingsJSON(t, ch.ID, "--data-dir", dir); !c.Settings.IsZero() {
		t.Errorf("a new channel's settings: %+v (the environment's?)", c.Settings)
	}

	// Changed: each flag alone leaves the other setting as it is.
	if c := settingsJSON(t, ch.ID, "--data-dir", dir, "--reconnect-window", "10s"); windowOf(c) != 10*time.Second || c.Settings.KeepOnUnpublish {
		t.Errorf("--reconnect-window 10s: %+v", c.Settings)
	}
	code, stdout, stderr = runCLI(t, "keys", "settings", "--keep-on-unpublish", ch.ID, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "settings changed") || !strings.Contains(stdout, "reconnect window:   10s") ||
		!strings.Contains(stdout, "keeps the stream live") {
		t.Errorf("--keep-on-unpublish: exit %d:\n%s%s", code, stdout, stderr)
	}
	if got, err := s.Get(ctx, ch.ID); err != nil || windowOf(got) != 10*time.Second || !got.Settings.KeepOnUnpublish {
		t.Errorf("stored: %+v, %v", got.Settings, err)
	}
	// The server's FileStore hears of the changes when it next reads the file.
	s.Get(ctx, ch.ID)
	testenv.WaitFor(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(heard) > 0 }, "the server's FileStore to hear")
	mu.Lock()
	if len(heard) == 0 || heard[0] != (registry.Change{ChannelID: ch.ID, What: registry.SettingsChanged}) {
		t.Errorf("the server's FileStore heard %v, want %s's settings changed", heard, ch.ID)
	}
	mu.Unlock()

	// list shows them, as a table and as JSON.
	code, stdout, _ = runCLI(t, "keys", "list", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "WINDOW") || !strings.Contains(lines[0], "UNPUBLISH") ||
		!strings.Contains(lines[1], " 10s ") || !strings.Contains(lines[1], " keeps ") {
		t.Errorf("list: exit %d:\n%s", code, stdout)
	}
	code, stdout, _ = runCLI(t, "keys", "list", "--json", "--data-dir", dir)
	var cs []registry.Channel
	if err := json.Unmarshal([]byte(stdout), &cs); code != 0 || err != nil || len(cs) != 1 || windowOf(cs[0]) != 10*time.Second || !cs[0].Settings.KeepOnUnpublish {
		t.Errorf("list --json: exit %d, %v:\n%s", code, err, stdout)
	}

	// 0 is a window of its own; default is the server's again.
	if c := settingsJSON(t, ch.ID, "--data-dir", dir, "--reconnect-window", "0"); windowOf(c) != 0 {
		t.Errorf("--reconnect-window 0: %+v", c.Settings)
	}
	code, stdout, _ = runCLI(t, "keys", "list", "--data-dir", dir)
	if !strings.Contains(stdout, " 0s ") {
		t.Errorf("list of a window of 0: exit %d:\n%s", code, stdout)
	}
	c := settingsJSON(t, ch.ID, "--data-dir", dir, "--reconnect-window", "default", "--keep-on-unpublish=false")
	if !c.Settings.IsZero() {
		t.Errorf("default and false: %+v", c.Settings)
	}

	// Refused, with the reason, and nothing changed.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--reconnect-window", "2h"}, 1, "reconnect_window 2h0m0s: must be 0s to 1h0m0s"},
		{[]string{"--reconnect-window", "-1s"}, 1, "reconnect_window -1s"},
		{[]string{"--reconnect-window", "soon"}, 1, "--reconnect-window \"soon\": want a duration"},
		{[]string{"--reconnect-window", ""}, 1, "--reconnect-window \"\": want a duration"},
		{[]string{"--keep-on-unpublish=maybe"}, 2, "invalid boolean"},
	} {
		code, _, stderr := runCLI(t, append([]string{"keys", "settings", ch.ID, "--data-dir", dir}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "settings"}, 2, "Usage: livestream keys settings ID"},
		{[]string{"keys", "settings", ch.ID, "other"}, 2, "Usage"},
		{[]string{"keys", "settings", "ch_aaaaaaaaaaaa", "--data-dir", dir, "--keep-on-unpublish"}, 1, "no such channel"},
		{[]string{"keys", "settings", "ch_aaaaaaaaaaaa", "--data-dir", dir}, 1, "no such channel"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d: %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if got, _ := s.Get(ctx, ch.ID); !got.Settings.IsZero() {
		t.Errorf("refused commands changed the settings: %+v", got.Settings)
	}
	if code, stdout, _ := runCLI(t, "keys", "help"); code != 0 || !strings.Contains(stdout, "keys settings ID [--reconnect-window DURATION|default]") {
		t.Errorf("keys help lacks settings: exit %d:\n%s", code, stdout)
	}
}

func TestKeysSettingsAdminURL(t *testing.T) {
	clearKeysEnv(t)
	s, err := registry.OpenFile(filepath.Join(t.TempDir(), "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const token = "cli-settings-token"
	srv := httptest.NewServer(registry.AdminHandler(s, token, nil))
	defer srv.Close()
	ch, _, err := s.Create(context.Background(), "remote")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIVESTREAM_ADMIN_URL", srv.URL)
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", token)

	c := settingsJSON(t, ch.ID, "--reconnect-window", "45s", "--keep-on-unpublish")
	if windowOf(c) != 45*time.Second || !c.Settings.KeepOnUnpublish {
		t.Errorf("through the admin API: %+v", c.Settings)
	}
	if got, err := s.Get(context.Background(), ch.ID); err != nil || windowOf(got) != 45*time.Second || !got.Settings.KeepOnUnpublish {
		t.Errorf("stored through the admin API: %+v, %v", got.Settings, err)
	}
	if c := settingsJSON(t, ch.ID, "--reconnect-window", "default"); c.Settings.ReconnectWindow != nil || !c.Settings.KeepOnUnpublish {
		t.Errorf("default through the admin API: %+v", c.Settings)
	}
	if c := settingsJSON(t, ch.ID); c.Settings.ReconnectWindow != nil || !c.Settings.KeepOnUnpublish {
		t.Errorf("shown through the admin API: %+v", c.Settings)
	}
	code, _, stderr := runCLI(t, "keys", "settings", ch.ID, "--reconnect-window", "3h")
	if code != 1 || !strings.Contains(stderr, "invalid channel settings: reconnect_window") || strings.Contains(stderr, token) {
		t.Errorf("3h through the admin API: exit %d: %q", code, stderr)
	}
}

func TestKeysSettingsRedisURL(t *testing.T) {
	clearKeysEnv(t)
	url := "redis://" + testenv.StartRedis(t) + "/0"
	reg, err := registry.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	heard := make(chan registry.Change, 8)
	defer reg.Subscribe(func(c registry.Change) { heard <- c })()
	ch, key, err := reg.Create(context.Background(), "cluster")
	if err != nil {
		t.Fatal(err)
	}
	if c := settingsJSON(t, ch.ID, "--redis-url", url, "--reconnect-window", "2m"); windowOf(c) != 2*time.Minute {
		t.Errorf("through Redis: %+v", c.Settings)
	}
	// A server of the cluster hears of it, and its next publish reads it.
	select {
	case c := <-heard:
		if c != (registry.Change{ChannelID: ch.ID, What: registry.SettingsChanged}) {
			t.Errorf("the cluster heard %v", c)
		}
	case <-time.After(5 * time.Second):
		t.Error("the cluster did not hear of the settings change")
	}
	if got, err := reg.Authenticate(context.Background(), key); err != nil || windowOf(got) != 2*time.Minute {
		t.Errorf("Authenticate after the change: %+v, %v", got.Settings, err)
	}
}
