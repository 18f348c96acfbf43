package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/registry"
)

// adminCall makes one admin API request with token ("" for none) and
// returns the status and body.
func adminCall(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := quickClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// TestOriginAdminAPI runs a real `livestream origin` with --admin-addr on a
// real Redis (with a password), the token in LIVESTREAM_ADMIN_TOKEN as a
// deployment gives it: the admin API of serve manages the cluster's
// channels in Redis (the CLI with --redis-url sees them), refuses requests
// without the token, lists the cluster's live streams from their routes
// and the recordings of the storage the origin serves at /vod/, and is not
// on the viewers' port. Neither the token nor a stream key is logged.
func TestOriginAdminAPI(t *testing.T) {
	clearKeysEnv(t)
	const password = "origin-admin-redis-pw-4b1e"
	const token = "origin-admin-token-8c2f51d9e0a7"
	redisURL := "redis://:" + password + "@" + testenv.StartRedis(t, "--requirepass", password) + "/0"

	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	recordDir := filepath.Join(dir, "recordings")
	httpAddr, adminAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", token)
	org := startRole(t, bin, redisURL, "origin", httpAddr, "origin", "--http-addr", httpAddr, "--admin-addr", adminAddr,
		"--data-dir", filepath.Join(dir, "data"), "--record-dir", recordDir, "--log-format", "json", "--log-level", "debug")
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", "") // the keys CLI below would take it for its own
	api := "http://" + adminAddr + "/api"

	// No token, a wrong one, or the right one on the viewers' port: no.
	for _, c := range []struct{ url, token string }{
		{api + "/channels", ""},
		{api + "/channels", token + "x"},
		{api + "/channels", token[:len(token)-1]},
	} {
		if code, body := adminCall(t, "POST", c.url, c.token, `{"name":"intruder"}`); code != http.StatusUnauthorized {
			t.Errorf("POST /api/channels with token %q: %d %s, want 401", c.token, code, body)
		}
	}
	if code, body := adminCall(t, "POST", "http://"+httpAddr+"/api/channels", token, `{"name":"intruder"}`); code == http.StatusCreated {
		t.Errorf("the viewers' port serves the admin API: %d %s", code, body)
	}

	code, body := adminCall(t, "POST", api+"/channels", token, `{"name":"cluster channel"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /api/channels: %d %s, want 201", code, body)
	}
	var k registry.IssuedKey
	if err := json.Unmarshal(body, &k); err != nil || k.ID == "" || k.StreamKey == "" || k.PlaybackID == "" {
		t.Fatalf("POST /api/channels answered %s (%v)", body, err)
	}

	// The channel is the cluster's: in Redis, as the CLI sees it.
	code, stdout, stderr := runCLI(t, "keys", "list", "--redis-url", redisURL)
	if code != 0 || !strings.Contains(stdout, k.ID) || !strings.Contains(stdout, "cluster channel") {
		t.Errorf("keys list --redis-url: exit %d: %s%s; want the channel %s", code, stdout, stderr, k.ID)
	}
	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx := context.Background()
	if ch, err := reg.Authenticate(ctx, k.StreamKey); err != nil || ch.ID != k.ID {
		t.Errorf("the issued key in Redis: %+v, %v", ch, err)
	}

	// Rotation and destinations go to Redis too.
	code, body = adminCall(t, "POST", api+"/channels/"+k.ID+"/rotate", token, "")
	var rotated registry.IssuedKey
	if json.Unmarshal(body, &rotated); code != http.StatusOK || rotated.StreamKey == "" || rotated.StreamKey == k.StreamKey {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if ch, err := reg.Authenticate(ctx, rotated.StreamKey); err != nil || ch.ID != k.ID {
		t.Errorf("the rotated key in Redis: %+v, %v", ch, err)
	}
	const relayKey = "live_98765_origin-admin-relay"
	if code, body := adminCall(t, "POST", api+"/channels/"+k.ID+"/destinations", token, `{"kind":"twitch","key":"`+relayKey+`"}`); code != http.StatusCreated {
		t.Errorf("add destination: %d %s", code, body)
	} else if strings.Contains(string(body), relayKey) {
		t.Errorf("add destination answered the relay key: %s", body)
	}
	if ds, err := reg.Destinations(ctx, k.ID); err != nil || len(ds) != 1 || ds[0].Key != relayKey {
		t.Errorf("destinations in Redis: %+v, %v", ds, err)
	}

	// Live streams: the channels with a live route.
	code, body = adminCall(t, "GET", api+"/streams", token, "")
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /api/streams with no route: %d %s, want []", code, body)
	}
	since := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	if err := reg.SetRoute(ctx, registry.Route{PlaybackID: k.PlaybackID, Server: "server-a", Addr: "127.0.0.1:9", Since: since}, time.Minute); err != nil {
		t.Fatal(err)
	}
	code, body = adminCall(t, "GET", api+"/streams/"+k.PlaybackID, token, "")
	var live ClusterStream
	if err := json.Unmarshal(body, &live); code != http.StatusOK || err != nil ||
		live.ChannelID != k.ID || live.Server != "server-a" || !live.Since.Equal(since) {
		t.Errorf("GET /api/streams/%s: %d %s, want the route's stream on server-a since %v", k.PlaybackID, code, body, since)
	}

	// Recordings: those in the storage the origin serves at /vod/.
	session := record.SessionInfo{
		PlaybackID: k.PlaybackID, ID: "1764100000000", Start: since, DurationMS: 12000, Size: 4096, Segments: 2,
		State: record.StateComplete, Renditions: []string{"720p"}, Playlist: k.PlaybackID + "/vod-1764100000000.m3u8",
	}
	writeJSONFile(t, filepath.Join(recordDir, k.PlaybackID, session.ID, "session.json"), session)
	code, body = adminCall(t, "GET", api+"/channels/"+k.ID+"/recordings", token, "")
	var recs []Recording
	if err := json.Unmarshal(body, &recs); code != http.StatusOK || err != nil || len(recs) != 1 ||
		recs[0].ID != session.ID || recs[0].URL != "/vod/"+session.Playlist {
		t.Errorf("GET recordings: %d %s, want session %s at /vod/%s", code, body, session.ID, session.Playlist)
	}

	// The keys and recordings CLIs speak to it as to serve's.
	code, stdout, stderr = runCLI(t, "keys", "list", "--admin-url", "http://"+adminAddr, "--admin-token", token)
	if code != 0 || !strings.Contains(stdout, k.ID) {
		t.Errorf("keys list --admin-url: exit %d: %s%s; want the channel %s", code, stdout, stderr, k.ID)
	}
	code, stdout, stderr = runCLI(t, "recordings", "list", k.ID, "--admin-url", "http://"+adminAddr, "--admin-token", token, "--json")
	if code != 0 || !strings.Contains(stdout, session.Playlist) {
		t.Errorf("recordings list --admin-url: exit %d: %s%s; want %s", code, stdout, stderr, session.Playlist)
	}
	// Or to the cluster's Redis and a recordings directory at hand.
	code, stdout, stderr = runCLI(t, "recordings", "list", k.ID, "--redis-url", redisURL, "--record-dir", recordDir, "--json")
	if code != 0 || !strings.Contains(stdout, session.Playlist) {
		t.Errorf("recordings list --redis-url: exit %d: %s%s; want %s", code, stdout, stderr, session.Playlist)
	}

	if code, body := adminCall(t, "DELETE", api+"/channels/"+k.ID, token, ""); code != http.StatusNoContent {
		t.Errorf("revoke: %d %s", code, body)
	}
	if _, err := reg.Get(ctx, k.ID); err == nil {
		t.Error("the revoked channel is still in Redis")
	}

	// Stop it as a deployment does, so that its whole log is written.
	org.cmd.Process.Signal(os.Interrupt)
	select {
	case <-org.exited:
	case <-time.After(15 * time.Second):
		t.Error("origin did not stop within 15 s of SIGINT")
	}
	logs := org.logs.String()
	if !strings.Contains(logs, adminAddr) {
		t.Errorf("origin's log does not say where the admin API is (%s):\n%s", adminAddr, logs)
	}
	for what, secret := range map[string]string{"admin token": token, "stream key": k.StreamKey, "rotated stream key": rotated.StreamKey,
		"relay key": relayKey, "Redis password": password} {
		if strings.Contains(logs, secret) {
			t.Errorf("origin's log holds the %s", what)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "data", "origin-admin-spool-*")); len(ents) != 0 {
		t.Errorf("origin left its listing spool behind: %v", ents)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOriginAdminFlags: --admin-addr needs a token of at least 16
// characters, and the error does not repeat the token; without
// --admin-addr there is no admin API, and a token alone is not an error.
func TestOriginAdminFlags(t *testing.T) {
	clearKeysEnv(t)
	redisURL := "redis://" + testenv.StartRedis(t) + "/0"
	const short = "tok-3f9a"
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--admin-addr", "127.0.0.1:0"}, "", "--admin-addr needs --admin-token"},
		{[]string{"--admin-addr", "127.0.0.1:0", "--admin-token", short}, "", "at least 16 characters"},
		{[]string{"--admin-addr", "127.0.0.1:0"}, short, "at least 16 characters"},
	} {
		t.Setenv("LIVESTREAM_ADMIN_TOKEN", c.env)
		code, stdout, stderr := runCLI(t, append([]string{"origin", "--redis-url", redisURL, "--record=false"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("origin %q (LIVESTREAM_ADMIN_TOKEN %q): exit %d, stderr %q; want exit 2 and %q", c.args, c.env, code, stderr, c.want)
		}
		if strings.Contains(stdout+stderr, short) {
			t.Errorf("origin %q printed the token: %s%s", c.args, stdout, stderr)
		}
	}
	t.Setenv("LIVESTREAM_ADMIN_TOKEN", "")

	// No --admin-addr: only the viewers' port, with a token or without.
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	httpAddr := testenv.FreeAddr(t)
	org := startRole(t, bin, redisURL, "origin", httpAddr, "origin", "--http-addr", httpAddr, "--record=false",
		"--admin-token", "unused-token-0123456789", "--log-format", "json")
	if code, body := adminCall(t, "GET", "http://"+httpAddr+"/api/channels", "unused-token-0123456789", ""); code == http.StatusOK {
		t.Errorf("the viewers' port serves the admin API: %d %s", code, body)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return strings.Contains(org.logs.String(), "livestream origin running") }, "origin's start line")
	if logs := org.logs.String(); !strings.Contains(logs, `"admin":""`) {
		t.Errorf("origin's start line does not say the admin API is off:\n%s", logs)
	}
}
