package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/livestream/livestream/registry"
)

// Destination secrets the CLI tests give: no output may hold one.
const (
	cliTwitchKey  = "live_123456789_AbCdEfGhIjKlMnOpQrSt0123"
	cliYouTubeKey = "abcd-efgh-ijkl-mnop-yt42"
	cliCustomName = "custom-cli-secret-stream-0099"
	cliCustomURL  = "rtmp://ingest.example.com/live/" + cliCustomName + "?auth=cli-secret-token"
)

var cliSecrets = []string{cliTwitchKey, cliYouTubeKey, cliCustomName, "cli-secret-token", cliTwitchKey[:16]}

// checkNoDestinationSecret fails if any output holds a destination secret.
func checkNoDestinationSecret(t *testing.T, what string, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range cliSecrets {
			if strings.Contains(out, s) {
				t.Errorf("%s printed a destination secret (%.8s…):\n%s", what, s, out)
			}
		}
	}
}

// withStdin makes content the process's stdin until the test ends.
func withStdin(t *testing.T, content string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = old; f.Close() })
}

// secretFile writes content to a new file and returns its path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// destJSON runs a destinations command that prints one destination as
// JSON, checking that it prints no secret.
func destJSON(t *testing.T, args ...string) registry.Destination {
	t.Helper()
	code, stdout, stderr := runCLI(t, append([]string{"keys", "destinations"}, args...)...)
	checkNoDestinationSecret(t, strings.Join(args, " "), stdout, stderr)
	if code != 0 || stderr != "" {
		t.Fatalf("keys destinations %v: exit %d, stderr %q", args, code, stderr)
	}
	var d registry.Destination
	if err := json.Unmarshal([]byte(stdout), &d); err != nil {
		t.Fatalf("keys destinations %v printed %q: %v", args, stdout, err)
	}
	return d
}

func TestKeysDestinationsDataDir(t *testing.T) {
	clearKeysEnv(t)
	t.Setenv("LIVESTREAM_KEY", "sk_from_the_environment_never_used")
	t.Setenv("LIVESTREAM_KIND", "twitch")
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
	ch, _, err := s.Create(ctx, "relayed")
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI(t, "keys", "destinations", ch.ID, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "no destinations") {
		t.Errorf("list of none: exit %d: %q %q", code, stdout, stderr)
	}

	// add, the key from a file (trailing newline and all), from stdin,
	// and as an argument.
	tw := destJSON(t, "add", ch.ID, "--kind", "twitch", "--key-file", secretFile(t, cliTwitchKey+"\n"), "--data-dir", dir, "--json")
	if tw.Kind != registry.KindTwitch || tw.Key != "…0123" || !tw.Enabled || !strings.HasPrefix(tw.ID, "ds_") {
		t.Errorf("add twitch printed %+v", tw)
	}
	withStdin(t, cliCustomURL+"\n")
	cu := destJSON(t, "add", "--data-dir", dir, ch.ID, "--kind", "custom", "--url", "-", "--disabled", "--json")
	if cu.Enabled || cu.URL != "rtmp://ingest.example.com/live/…0099" {
		t.Errorf("add custom printed %+v", cu)
	}
	code, stdout, stderr = runCLI(t, "keys", "destinations", "add", ch.ID, "--data-dir", dir,
		"--kind", "youtube", "--key", cliYouTubeKey, "--url", "rtmp://b.rtmp.youtube.com/live2")
	checkNoDestinationSecret(t, "add youtube", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, "added to "+ch.ID) || !strings.Contains(stdout, "rtmp://b.rtmp.youtube.com/live2/…yt42") {
		t.Errorf("add youtube: exit %d:\n%s%s", code, stdout, stderr)
	}

	// The registry has them in full; the server's FileStore heard of each
	// when it next read the file.
	ds, err := s.Destinations(ctx, ch.ID)
	if err != nil || len(ds) != 3 || ds[0].Key != cliTwitchKey || ds[1].URL != cliCustomURL || ds[2].Key != cliYouTubeKey {
		t.Fatalf("stored: %+v, %v", ds, err)
	}
	mu.Lock()
	if len(heard) != 1 || heard[0] != (registry.Change{ChannelID: ch.ID, What: registry.DestinationsChanged}) {
		t.Errorf("the server's FileStore heard %v, want %s's destinations changed", heard, ch.ID)
	}
	heard = nil
	mu.Unlock()

	// list: a table and JSON, redacted.
	code, stdout, stderr = runCLI(t, "keys", "destinations", ch.ID, "--data-dir", dir)
	checkNoDestinationSecret(t, "list", stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list: exit %d:\n%s", code, stdout)
	}
	for i, want := range [][]string{
		{tw.ID, "twitch", "yes", "key …0123"},
		{cu.ID, "custom", "no", "rtmp://ingest.example.com/live/…0099"},
		{ds[2].ID, "youtube", "yes", "rtmp://b.rtmp.youtube.com/live2/…yt42"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("list row %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
	}
	code, stdout, _ = runCLI(t, "keys", "destinations", "list", ch.ID, "--data-dir", dir, "--json")
	checkNoDestinationSecret(t, "list --json", stdout)
	var listed []registry.Destination
	if err := json.Unmarshal([]byte(stdout), &listed); code != 0 || err != nil || len(listed) != 3 || listed[0] != tw || listed[1] != cu {
		t.Errorf("list --json: exit %d, %v:\n%s", code, err, stdout)
	}

	// enable, disable, rm.
	if d := destJSON(t, "enable", ch.ID, cu.ID, "--data-dir", dir, "--json"); !d.Enabled || d.ID != cu.ID {
		t.Errorf("enable printed %+v", d)
	}
	code, stdout, stderr = runCLI(t, "keys", "destinations", "disable", ch.ID, tw.ID, "--data-dir", dir)
	checkNoDestinationSecret(t, "disable", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, tw.ID+" disabled on "+ch.ID) {
		t.Errorf("disable: exit %d: %s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "keys", "destinations", "rm", ch.ID, ds[2].ID, "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "removed destination "+ds[2].ID) {
		t.Errorf("rm: exit %d: %s%s", code, stdout, stderr)
	}
	ds, _ = s.Destinations(ctx, ch.ID)
	if len(ds) != 2 || ds[0].Enabled || !ds[1].Enabled {
		t.Errorf("after enable, disable and rm: %+v", ds)
	}
	code, _, stderr = runCLI(t, "keys", "destinations", "rm", ch.ID, ds[2-1].ID+"x", "--data-dir", dir)
	if code != 1 || !strings.Contains(stderr, "no such destination") {
		t.Errorf("rm of an unknown destination: exit %d: %s", code, stderr)
	}
}

func TestKeysDestinationsErrors(t *testing.T) {
	clearKeysEnv(t)
	dir := t.TempDir()
	s, err := registry.OpenFile(filepath.Join(dir, "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ch, _, err := s.Create(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	empty := secretFile(t, "\n")
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{}, "", 2, "Usage: livestream keys destinations [list] ID"},
		{[]string{"add"}, "", 2, "Usage: livestream keys destinations add ID"},
		{[]string{"enable", ch.ID}, "", 2, "Usage: livestream keys destinations enable ID DEST_ID"},
		{[]string{"frob", ch.ID}, "", 2, "Usage"},
		{[]string{"rm", ch.ID, "ds_x", "--json"}, "", 2, "not defined"},
		{[]string{"list", ch.ID, "--kind", "twitch"}, "", 2, "not defined"},
		{[]string{"add", ch.ID, "--key", cliTwitchKey}, "", 1, "--kind required"},
		{[]string{"add", ch.ID, "--kind", "twitch"}, "", 1, "key required"},
		{[]string{"add", ch.ID, "--kind", "twitch", "--key", cliTwitchKey, "--key-file", empty}, "", 1, "not both"},
		{[]string{"add", ch.ID, "--kind", "twitch", "--key-file", empty}, "", 1, "is empty"},
		{[]string{"add", ch.ID, "--kind", "twitch", "--key-file", filepath.Join(dir, "none")}, "", 1, "no such file"},
		{[]string{"add", ch.ID, "--kind", "twitch", "--key", "-"}, "", 1, "nothing on stdin"},
		{[]string{"add", ch.ID, "--kind", "custom", "--key", "-", "--url", "-"}, cliCustomURL, 1, "only one of --key and --url"},
		{[]string{"add", ch.ID, "--kind", "twitch", "--key", "-"}, cliTwitchKey + " " + cliYouTubeKey, 1, "holds a space"},
		{[]string{"add", ch.ID, "--kind", "periscope", "--key", cliTwitchKey}, "", 1, "invalid destination: kind"},
		{[]string{"add", ch.ID, "--kind", "custom", "--url", "http://h/live/" + cliCustomName}, "", 1, "scheme must be rtmp or rtmps"},
		{[]string{"add", "ch_aaaaaaaaaaaa", "--kind", "twitch", "--key", cliTwitchKey}, "", 1, "no such channel"},
		{[]string{"ch_aaaaaaaaaaaa"}, "", 1, "no such channel"},
		{[]string{"disable", ch.ID, cliTwitchKey}, "", 1, "no such destination"},
	} {
		withStdin(t, tc.stdin)
		code, stdout, stderr := runCLI(t, append(append([]string{"keys", "destinations"}, tc.args...), "--data-dir", dir)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
		checkNoDestinationSecret(t, strings.Join(tc.args, " "), stdout, stderr)
	}
	if ds, _ := s.Destinations(context.Background(), ch.ID); len(ds) != 0 {
		t.Errorf("failed commands added %+v", ds)
	}
	if code, stdout, _ := runCLI(t, "keys", "destinations", "help"); code != 0 || !strings.Contains(stdout, "--key-file") || !strings.Contains(stdout, `"ps"`) {
		t.Errorf("keys destinations help: exit %d:\n%s", code, stdout)
	}
}

func TestKeysDestinationsAdminURL(t *testing.T) {
	clearKeysEnv(t)
	s, err := registry.OpenFile(filepath.Join(t.TempDir(), "channels.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const token = "cli-destinations-token"
	srv := httptest.NewServer(registry.AdminHandler(s, token, nil))
	defer srv.Close()
	ctx := context.Background()
	ch, _, err := s.Create(ctx, "remote")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIVESTREAM_ADMIN_URL", srv.URL)
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", token)

	withStdin(t, cliTwitchKey+"\n")
	tw := destJSON(t, "add", ch.ID, "--kind", "twitch", "--key", "-", "--json")
	if tw.Key != "…0123" || !tw.Enabled {
		t.Errorf("add through the admin API printed %+v", tw)
	}
	cu := destJSON(t, "add", ch.ID, "--kind", "custom", "--url-file", secretFile(t, cliCustomURL), "--disabled", "--json")
	if cu.Enabled || cu.URL != "rtmp://ingest.example.com/live/…0099" {
		t.Errorf("add custom through the admin API printed %+v", cu)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 2 || ds[0].Key != cliTwitchKey || ds[1].URL != cliCustomURL || ds[1].Enabled {
		t.Fatalf("stored through the admin API: %+v", ds)
	}

	code, stdout, stderr := runCLI(t, "keys", "destinations", ch.ID)
	checkNoDestinationSecret(t, "list", stdout, stderr)
	if code != 0 || !strings.Contains(stdout, tw.ID) || !strings.Contains(stdout, "…0099") {
		t.Errorf("list through the admin API: exit %d:\n%s%s", code, stdout, stderr)
	}
	if d := destJSON(t, "enable", ch.ID, cu.ID, "--json"); !d.Enabled || d.URL != cu.URL {
		t.Errorf("enable through the admin API printed %+v", d)
	}
	if code, _, stderr := runCLI(t, "keys", "destinations", "rm", ch.ID, tw.ID); code != 0 {
		t.Errorf("rm through the admin API: exit %d: %s", code, stderr)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || ds[0].ID != cu.ID || !ds[0].Enabled {
		t.Errorf("after enable and rm through the admin API: %+v", ds)
	}
	code, stdout, stderr = runCLI(t, "keys", "destinations", "add", ch.ID, "--kind", "twitch", "--key", cliTwitchKey+"/x")
	checkNoDestinationSecret(t, "a refused add", stdout, stderr)
	if code != 1 || !strings.Contains(stderr, "invalid destination") {
		t.Errorf("a bad key through the admin API: exit %d: %s", code, stderr)
	}
}
