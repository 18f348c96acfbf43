package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

const testToken = "admin-token-for-tests"

// adminServer serves AdminHandler over a FileStore in a test directory on
// 127.0.0.1.
func adminServer(t *testing.T, token string, streams func() any) (*httptest.Server, *FileStore) {
	t.Helper()
	s, _ := openTemp(t)
	srv := httptest.NewServer(AdminHandler(s, token, streams))
	t.Cleanup(srv.Close)
	return srv, s
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends one request; auth is the Authorization header ("" for none).
func call(t *testing.T, srv *httptest.Server, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{resp.StatusCode, resp.Header, string(data)}
	if method != http.MethodHead && a.status != http.StatusNoContent {
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
		if !json.Valid(data) {
			t.Errorf("%s %s: answer is not JSON: %s", method, path, data)
		}
	}
	return a
}

// errorOf returns the "error" of a JSON error answer, failing if there is
// none.
func errorOf(t *testing.T, a answer) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" {
		t.Fatalf("want a JSON error, got %d %s", a.status, a.body)
	}
	return e.Error
}

var bearer = "Bearer " + testToken

func TestAdminAuth(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	srv, s := adminServer(t, testToken, nil)
	routes := []struct{ method, path, body string }{
		{"POST", "/api/channels", `{"name":"x"}`},
		{"GET", "/api/channels", ""},
		{"GET", "/api/channels/ch_aaaaaaaaaaaa", ""},
		{"POST", "/api/channels/ch_aaaaaaaaaaaa/rotate", ""},
		{"DELETE", "/api/channels/ch_aaaaaaaaaaaa", ""},
		{"PATCH", "/api/channels/ch_aaaaaaaaaaaa", `{"keep_on_unpublish": true}`},
		{"GET", "/api/streams", ""},
		{"GET", "/nowhere", ""},
	}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + testToken + "x",
		"Bearer " + testToken[:len(testToken)-1], "Basic " + testToken, testToken} {
		for _, r := range routes {
			a := call(t, srv, r.method, r.path, auth, r.body)
			if a.status != http.StatusUnauthorized {
				t.Fatalf("%s %s with Authorization %q: %d, want 401", r.method, r.path, auth, a.status)
			}
			if ch := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="livestream admin"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			if msg := errorOf(t, a); strings.Contains(msg, testToken) {
				t.Errorf("the 401 quotes the token: %s", msg)
			}
		}
	}
	if a := call(t, srv, "GET", "/api/channels", "Bearer wrong", ""); !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("a wrong token's challenge lacks invalid_token: %q", a.header.Get("WWW-Authenticate"))
	}
	if cs, _ := s.List(context.Background()); len(cs) != 0 {
		t.Fatalf("unauthenticated requests created %d channels", len(cs))
	}
	// The scheme is case-insensitive.
	if a := call(t, srv, "GET", "/api/channels", "bearer "+testToken, ""); a.status != http.StatusOK {
		t.Errorf("lowercase bearer: %d %s", a.status, a.body)
	}

	// No token configured: everything is refused, and the answer says why.
	closed, _ := adminServer(t, "", nil)
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		a := call(t, closed, "GET", "/api/channels", auth, "")
		if a.status != http.StatusUnauthorized || !strings.Contains(errorOf(t, a), "no admin token is configured") {
			t.Errorf("server without a token, Authorization %q: %d %s", auth, a.status, a.body)
		}
	}
	srv.Close()
	closed.Close()
}

func TestAdminChannels(t *testing.T) {
	var streamsCalled atomic.Bool // set on the server's goroutine
	srv, s := adminServer(t, testToken, func() any {
		streamsCalled.Store(true)
		return []map[string]any{{"playback_id": "abc", "viewers": 3}}
	})
	ctx := context.Background()

	a := call(t, srv, "POST", "/api/channels", bearer, `{"name": "Show"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var created IssuedKey
	if err := json.Unmarshal([]byte(a.body), &created); err != nil {
		t.Fatal(err)
	}
	if created.Name != "Show" || !validChannelID(created.ID) || !validPlaybackID(created.PlaybackID) || created.CreatedAt.IsZero() {
		t.Errorf("create answered %s", a.body)
	}
	if loc := a.header.Get("Location"); loc != "/api/channels/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("an answer with a key has Cache-Control %q, want no-store", cc)
	}
	if c, err := s.Authenticate(ctx, created.StreamKey); err != nil || c.ID != created.ID {
		t.Fatalf("the key create returned does not authenticate: %v", err)
	}

	// Neither list nor get shows a key or its hash.
	secret := []string{strings.TrimPrefix(created.StreamKey, keyPrefix), hashKey(created.StreamKey), "stream_key", "key_sha256"}
	list := call(t, srv, "GET", "/api/channels", bearer, "")
	get := call(t, srv, "GET", "/api/channels/"+created.ID, bearer, "")
	for _, a := range []answer{list, get} {
		if a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.body)
		}
		for _, s := range secret {
			if strings.Contains(a.body, s) {
				t.Errorf("answer holds %q: %s", s, a.body)
			}
		}
	}
	var listed []Channel
	if err := json.Unmarshal([]byte(list.body), &listed); err != nil || len(listed) != 1 || listed[0].ID != created.ID {
		t.Errorf("list answered %s", list.body)
	}
	var got Channel
	if err := json.Unmarshal([]byte(get.body), &got); err != nil || !sameChannel(got, created.Channel) {
		t.Errorf("get answered %s, want %+v", get.body, created.Channel)
	}

	// Rotate issues a new key and retires the old one.
	a = call(t, srv, "POST", "/api/channels/"+created.ID+"/rotate", bearer, "")
	var rotated IssuedKey
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &rotated) != nil {
		t.Fatalf("rotate: %d %s", a.status, a.body)
	}
	if rotated.ID != created.ID || rotated.StreamKey == created.StreamKey || checkKey(rotated.StreamKey) != nil {
		t.Errorf("rotate answered %s", a.body)
	}
	if _, err := s.Authenticate(ctx, created.StreamKey); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old key after rotate: %v", err)
	}
	if _, err := s.Authenticate(ctx, rotated.StreamKey); err != nil {
		t.Errorf("new key after rotate: %v", err)
	}

	// Streams: whatever the func returns.
	a = call(t, srv, "GET", "/api/streams", bearer, "")
	if a.status != http.StatusOK || !streamsCalled.Load() || strings.TrimSpace(a.body) != `[{"playback_id":"abc","viewers":3}]` {
		t.Errorf("streams: %d %s", a.status, a.body)
	}
	a = call(t, srv, "GET", "/api/streams/abc", bearer, "")
	if a.status != http.StatusOK || strings.TrimSpace(a.body) != `{"playback_id":"abc","viewers":3}` {
		t.Errorf("one stream: %d %s", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/streams/"+created.StreamKey, bearer, ""); a.status != http.StatusNotFound || strings.Contains(a.body, created.StreamKey) {
		t.Errorf("unknown stream: %d %s", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/api/streams/abc", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("one stream without the token: %d", a.status)
	}

	// Delete, then everything about the channel is 404.
	if a := call(t, srv, "DELETE", "/api/channels/"+created.ID, bearer, ""); a.status != http.StatusNoContent || a.body != "" {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/channels/" + created.ID},
		{"DELETE", "/api/channels/" + created.ID},
		{"POST", "/api/channels/" + created.ID + "/rotate"},
		{"GET", "/api/channels/nonsense"},
		// A key pasted where an id goes is not echoed back.
		{"GET", "/api/channels/" + rotated.StreamKey},
		{"POST", "/api/channels/" + rotated.StreamKey + "/rotate"},
		{"DELETE", "/api/channels/" + rotated.StreamKey},
	} {
		a := call(t, srv, r.method, r.path, bearer, "")
		msg := errorOf(t, a)
		if a.status != http.StatusNotFound || !strings.Contains(msg, "no such channel") {
			t.Errorf("%s %s: %d %s, want 404 no such channel", r.method, r.path, a.status, a.body)
		}
		if strings.Contains(msg, strings.TrimPrefix(rotated.StreamKey, keyPrefix)) {
			t.Errorf("%s %s: the error quotes the key: %s", r.method, r.path, msg)
		}
	}
	if a := call(t, srv, "GET", "/api/channels", bearer, ""); strings.TrimSpace(a.body) != "[]" {
		t.Errorf("list of no channels: %s, want []", a.body)
	}
}

func TestAdminNotFoundAndMethods(t *testing.T) {
	srv, _ := adminServer(t, testToken, nil)
	if a := call(t, srv, "GET", "/api/streams", bearer, ""); a.status != http.StatusOK || strings.TrimSpace(a.body) != "[]" {
		t.Errorf("streams without a streams func: %d %s, want []", a.status, a.body)
	}
	key := newStreamKey()
	for _, path := range []string{"/", "/api", "/api/channels/", "/api/channels/x/y", "/stream/" + key} {
		a := call(t, srv, "GET", path, bearer, "")
		if a.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, a.status)
		}
		if strings.Contains(errorOf(t, a), key) {
			t.Errorf("a 404 echoes the path and the key in it: %s", a.body)
		}
	}
	for _, r := range []struct{ method, path, allow string }{
		{"PUT", "/api/channels", "GET, POST"},
		{"DELETE", "/api/channels", "GET, POST"},
		{"PUT", "/api/channels/ch_aaaaaaaaaaaa", "GET, PATCH, DELETE"},
		{"GET", "/api/channels/ch_aaaaaaaaaaaa/rotate", "POST"},
		{"POST", "/api/streams", "GET"},
	} {
		a := call(t, srv, r.method, r.path, bearer, "")
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != r.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", r.method, r.path, a.status, a.header.Get("Allow"), r.allow)
		}
		errorOf(t, a)
	}
}

func TestAdminBadRequests(t *testing.T) {
	srv, s := adminServer(t, testToken, nil)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{"", 400, "got nothing"},
		{"{", 400, "request body"},
		{"name=x", 400, "request body"},
		{`["x"]`, 400, "request body"},
		{`{"name": 3}`, 400, "request body"},
		{`{"name": "x", "key": "sk_x"}`, 400, "unknown field"},
		{`{"name": "x"} {"name": "y"}`, 400, "data after"},
		{`{}`, 400, `"name" is required`},
		{`{"name": ""}`, 400, "invalid channel name"},
		{`{"name": "a\nb"}`, 400, "invalid channel name"},
		{`{"name": "` + strings.Repeat("a", 101) + `"}`, 400, "invalid channel name"},
		{`{"name": "` + strings.Repeat("a", maxRequestBody) + `"}`, 413, "larger than"},
	} {
		a := call(t, srv, "POST", "/api/channels", bearer, tc.body)
		if msg := errorOf(t, a); a.status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("POST %.40q: %d %s, want %d and %q", tc.body, a.status, msg, tc.status, tc.want)
		}
	}
	if cs, _ := s.List(context.Background()); len(cs) != 0 {
		t.Errorf("bad requests created %d channels", len(cs))
	}
}

func TestParseBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "abc": "", "Bearerabc": "",
	} {
		got, ok := parseBearer(h)
		if got != want || ok != (want != "") {
			t.Errorf("parseBearer(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}

func TestAdminSettings(t *testing.T) {
	srv, s := adminServer(t, testToken, nil)
	ctx := context.Background()
	c, key, err := s.Create(ctx, "Show")
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/channels/" + c.ID
	// settingsOf returns the "settings" object of a channel's JSON, "" if
	// it has none.
	settingsOf := func(body string) string {
		t.Helper()
		var ch map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &ch); err != nil || string(ch["channel_id"]) != `"`+c.ID+`"` {
			t.Fatalf("not the channel's JSON: %s", body)
		}
		return string(ch["settings"])
	}
	for _, tc := range []struct{ body, want string }{
		{`{"reconnect_window": "10s", "keep_on_unpublish": true}`, `{"reconnect_window":"10s","keep_on_unpublish":true}`},
		{`{"keep_on_unpublish": false}`, `{"reconnect_window":"10s"}`},
		{`{}`, `{"reconnect_window":"10s"}`},
		{`{"reconnect_window": "0s"}`, `{"reconnect_window":"0s"}`},
		{`{"reconnect_window": "1h"}`, `{"reconnect_window":"1h0m0s"}`},
		{`{"reconnect_window": null, "keep_on_unpublish": true}`, `{"keep_on_unpublish":true}`},
		{`{"keep_on_unpublish": false}`, ``},
		{`{"reconnect_window": "90s"}`, `{"reconnect_window":"1m30s"}`},
	} {
		a := call(t, srv, "PATCH", path, bearer, tc.body)
		if a.status != http.StatusOK || settingsOf(a.body) != tc.want {
			t.Errorf("PATCH %s: %d %s, want 200 with settings %s", tc.body, a.status, a.body, tc.want)
		}
	}
	// The channel holds them: the store, GET and the list.
	if got, err := s.Authenticate(ctx, key); err != nil || got.Settings.ReconnectWindowOr(0) != 90*time.Second {
		t.Errorf("the store after PATCH: %+v, %v", got.Settings, err)
	}
	if a := call(t, srv, "GET", path, bearer, ""); settingsOf(a.body) != `{"reconnect_window":"1m30s"}` {
		t.Errorf("GET: %s", a.body)
	}
	var listed []Channel
	if a := call(t, srv, "GET", "/api/channels", bearer, ""); json.Unmarshal([]byte(a.body), &listed) != nil ||
		len(listed) != 1 || listed[0].Settings.ReconnectWindowOr(0) != 90*time.Second {
		t.Errorf("list: %s", a.body)
	}

	// Bad values: 400 naming the field; nothing changes.
	for _, tc := range []struct{ body, want string }{
		{`{"reconnect_window": "2h"}`, "reconnect_window 2h0m0s: must be 0s to 1h0m0s"},
		{`{"reconnect_window": "-1s"}`, "reconnect_window -1s: must be 0s to 1h0m0s"},
		{`{"reconnect_window": "soon"}`, `reconnect_window: want a duration string`},
		{`{"reconnect_window": 10}`, `reconnect_window: want a duration string`},
		{`{"keep_on_unpublish": "yes"}`, "keep_on_unpublish: want true or false"},
		{`{"keep_on_unpublish": null}`, "keep_on_unpublish: want true or false"},
		{`{"reconnect_window": "10s", "name": "x"}`, `unknown field "name"`},
		{`{"keep_on_unpublish": true} {}`, "data after"},
		{``, "got nothing"},
		{`[]`, "want a JSON object"},
	} {
		a := call(t, srv, "PATCH", path, bearer, tc.body)
		if msg := errorOf(t, a); a.status != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("PATCH %s: %d %s, want 400 and %q", tc.body, a.status, msg, tc.want)
		}
	}
	if got, _ := s.Get(ctx, c.ID); got.Settings.ReconnectWindowOr(0) != 90*time.Second || got.Settings.KeepOnUnpublish {
		t.Errorf("bad requests changed the settings: %+v", got.Settings)
	}

	// Unknown channels are 404, and a key in the path is not echoed.
	for _, id := range []string{"ch_aaaaaaaaaaaa", key} {
		a := call(t, srv, "PATCH", "/api/channels/"+id, bearer, `{"keep_on_unpublish": true}`)
		if msg := errorOf(t, a); a.status != http.StatusNotFound || !strings.Contains(msg, "no such channel") || strings.Contains(msg, key) {
			t.Errorf("PATCH of an unknown channel: %d %s", a.status, msg)
		}
	}
}
