package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// secrets are the destination secrets the admin tests send: no answer may
// hold any of them.
var secrets = []string{twitchKey, youtubeKey, facebookKey, fbQuery, customName, "tok-secret-999",
	// Shorter parts, in case a key were cut rather than redacted.
	twitchKey[:20], twitchKey[len(twitchKey)-10:], customName[:16]}

// checkAnswer fails if a holds a secret, or lacks what every answer about
// destinations has.
func checkAnswer(t *testing.T, what string, a answer) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(a.body, s) {
			t.Errorf("%s: the answer holds a secret (%.8s…): %s", what, s, a.body)
		}
	}
	if a.status != http.StatusNoContent {
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
	}
}

// decode decodes a's JSON body into a new T.
func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("%d %s: %v", a.status, a.body, err)
	}
	return v
}

func TestAdminDestinations(t *testing.T) {
	srv, s := adminServer(t, testToken, nil)
	ctx := context.Background()
	ch, _, err := s.Create(ctx, "relayed")
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/channels/" + ch.ID + "/destinations"

	a := call(t, srv, "GET", base, bearer, "")
	checkAnswer(t, "empty list", a)
	if a.status != http.StatusOK || strings.TrimSpace(a.body) != "[]" {
		t.Errorf("list of none: %d %s, want []", a.status, a.body)
	}

	// POST: 201, redacted, Location; enabled unless said otherwise.
	a = call(t, srv, "POST", base, bearer, `{"kind": "twitch", "key": "`+twitchKey+`"}`)
	checkAnswer(t, "add twitch", a)
	if a.status != http.StatusCreated {
		t.Fatalf("add: %d %s", a.status, a.body)
	}
	tw := decode[Destination](t, a)
	if !validDestinationID(tw.ID) || tw.Kind != KindTwitch || tw.Key != "…0123" || !tw.Enabled || tw.CreatedAt.IsZero() {
		t.Errorf("add answered %s", a.body)
	}
	if loc := a.header.Get("Location"); loc != base+"/"+tw.ID {
		t.Errorf("Location %q, want %q", loc, base+"/"+tw.ID)
	}
	a = call(t, srv, "POST", base, bearer, `{"kind": "custom", "url": "`+customURL+`", "enabled": false}`)
	checkAnswer(t, "add custom", a)
	cu := decode[Destination](t, a)
	if a.status != http.StatusCreated || cu.Enabled || cu.URL != "rtmps://ingest.example.com:4443/live/app/…0042" {
		t.Errorf("add custom: %d %s", a.status, a.body)
	}
	a = call(t, srv, "POST", base, bearer, `{"kind": "facebook", "key": "`+facebookKey+"?"+fbQuery+`", "url": "rtmps://live-api-s.facebook.com:443/rtmp", "enabled": true}`)
	checkAnswer(t, "add facebook", a)
	fb := decode[Destination](t, a)
	if a.status != http.StatusCreated || fb.Key != "…MnOp" || fb.URL != "rtmps://live-api-s.facebook.com:443/rtmp" {
		t.Errorf("add facebook: %d %s", a.status, a.body)
	}

	// The store has them in full.
	ds, err := s.Destinations(ctx, ch.ID)
	if err != nil || len(ds) != 3 || ds[0].Key != twitchKey || ds[1].URL != customURL || ds[2].Key != facebookKey+"?"+fbQuery {
		t.Fatalf("stored: %+v, %v", ds, err)
	}

	// GET list and one.
	a = call(t, srv, "GET", base, bearer, "")
	checkAnswer(t, "list", a)
	if list := decode[[]Destination](t, a); a.status != http.StatusOK || len(list) != 3 || list[0] != tw || list[1] != cu || list[2] != fb {
		t.Errorf("list: %d %s", a.status, a.body)
	}
	a = call(t, srv, "GET", base+"/"+cu.ID, bearer, "")
	checkAnswer(t, "get", a)
	if got := decode[Destination](t, a); a.status != http.StatusOK || got != cu {
		t.Errorf("get: %d %s, want %+v", a.status, a.body, cu)
	}

	// PATCH: enable, disable, new key, new URL.
	a = call(t, srv, "PATCH", base+"/"+cu.ID, bearer, `{"enabled": true}`)
	checkAnswer(t, "enable", a)
	if got := decode[Destination](t, a); a.status != http.StatusOK || !got.Enabled || got.URL != cu.URL {
		t.Errorf("enable: %d %s", a.status, a.body)
	}
	newURL := "rtmp://other.example.com/live/" + customName + "-2"
	a = call(t, srv, "PATCH", base+"/"+cu.ID, bearer, `{"url": "`+newURL+`", "enabled": false}`)
	checkAnswer(t, "new URL", a)
	if got := decode[Destination](t, a); a.status != http.StatusOK || got.Enabled || got.URL != "rtmp://other.example.com/live/…42-2" {
		t.Errorf("new URL: %d %s", a.status, a.body)
	}
	a = call(t, srv, "PATCH", base+"/"+tw.ID, bearer, `{"key": "`+youtubeKey+`"}`)
	checkAnswer(t, "new key", a)
	if got := decode[Destination](t, a); a.status != http.StatusOK || got.Key != "…qrs7" || !got.Enabled {
		t.Errorf("new key: %d %s", a.status, a.body)
	}
	a = call(t, srv, "PATCH", base+"/"+tw.ID, bearer, `{}`)
	if a.status != http.StatusOK {
		t.Errorf("empty PATCH: %d %s", a.status, a.body)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); ds[0].Key != youtubeKey || ds[1].URL != newURL || ds[1].Enabled {
		t.Errorf("after PATCH, stored: %+v", ds)
	}

	// DELETE: 204, then 404.
	a = call(t, srv, "DELETE", base+"/"+cu.ID, bearer, "")
	if a.status != http.StatusNoContent || a.body != "" {
		t.Errorf("delete: %d %s", a.status, a.body)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", base + "/" + cu.ID, ""},
		{"PATCH", base + "/" + cu.ID, `{"enabled": true}`},
		{"DELETE", base + "/" + cu.ID, ""},
		{"GET", base + "/" + twitchKey, ""}, // a key where an id goes is not echoed
		{"DELETE", base + "/" + twitchKey, ""},
	} {
		a := call(t, srv, r.method, r.path, bearer, r.body)
		checkAnswer(t, r.method+" of a deleted destination", a)
		if msg := errorOf(t, a); a.status != http.StatusNotFound || !strings.Contains(msg, "no such destination") {
			t.Errorf("%s %s: %d %s, want 404 no such destination", r.method, r.path, a.status, a.body)
		}
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 2 {
		t.Errorf("after delete, %d destinations", len(ds))
	}

	// An unknown channel is 404 no such channel, on every endpoint.
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/channels/ch_aaaaaaaaaaaa/destinations", ""},
		{"POST", "/api/channels/ch_aaaaaaaaaaaa/destinations", `{"kind": "twitch", "key": "` + twitchKey + `"}`},
		{"GET", "/api/channels/ch_aaaaaaaaaaaa/destinations/" + tw.ID, ""},
		{"PATCH", "/api/channels/ch_aaaaaaaaaaaa/destinations/" + tw.ID, `{"key": "` + twitchKey + `"}`},
		{"DELETE", "/api/channels/ch_aaaaaaaaaaaa/destinations/" + tw.ID, ""},
		{"GET", "/api/channels/" + twitchKey + "/destinations", ""},
	} {
		a := call(t, srv, r.method, r.path, bearer, r.body)
		checkAnswer(t, r.method+" on an unknown channel", a)
		if msg := errorOf(t, a); a.status != http.StatusNotFound || !strings.Contains(msg, "no such channel") {
			t.Errorf("%s %s: %d %s, want 404 no such channel", r.method, r.path, a.status, a.body)
		}
	}

	// Revoking the channel takes its destinations.
	if a := call(t, srv, "DELETE", "/api/channels/"+ch.ID, bearer, ""); a.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", a.status)
	}
	if a := call(t, srv, "GET", base, bearer, ""); a.status != http.StatusNotFound {
		t.Errorf("destinations of a revoked channel: %d %s", a.status, a.body)
	}
}

func TestAdminDestinationsBadRequests(t *testing.T) {
	srv, s := adminServer(t, testToken, nil)
	ctx := context.Background()
	ch, _, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/channels/" + ch.ID + "/destinations"
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{"", 400, "got nothing"},
		{`{"kind": "twitch", "key": "` + twitchKey + `"`, 400, "request body"},
		{`{"kind": "twitch", "key": ` + strings.TrimPrefix(twitchKey, "live_") + `}`, 400, "request body"},
		{`{"kind": "twitch", "key": 12}`, 400, "request body"},
		{`{"kind": "twitch", "key": "` + twitchKey + `", "region": "eu"}`, 400, "unknown field"},
		{`{"kind": "twitch", "key": "` + twitchKey + `", "id": "ds_aaaaaaaa"}`, 400, "unknown field"},
		{`{"kind": "twitch", "key": "` + twitchKey + `"} {}`, 400, "data after"},
		{`{}`, 400, "invalid destination: kind"},
		{`{"kind": "` + twitchKey + `"}`, 400, "invalid destination: kind"},
		{`{"kind": "twitch"}`, 400, "invalid destination: twitch: key required"},
		{`{"kind": "twitch", "key": "` + twitchKey + ` x"}`, 400, "holds a space"},
		{`{"kind": "custom", "url": "http://h/live/` + customName + `"}`, 400, "scheme must be rtmp or rtmps"},
		{`{"kind": "custom", "url": "rtmp://` + customName + `@h/live/x"}`, 400, "user info"},
		{`{"kind": "custom", "url": "rtmp://h/` + customName + `"}`, 400, "/APP/STREAM_KEY"},
		{`{"kind": "custom", "key": "` + twitchKey + `", "url": "` + customURL + `"}`, 400, "takes no key"},
		{`{"kind": "twitch", "key": "` + strings.Repeat("k", maxRequestBody) + `"}`, 413, "larger than"},
	} {
		a := call(t, srv, "POST", base, bearer, tc.body)
		checkAnswer(t, "POST "+tc.want, a)
		if msg := errorOf(t, a); a.status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("POST %.50q: %d %s, want %d and %q", tc.body, a.status, msg, tc.status, tc.want)
		}
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 0 {
		t.Fatalf("bad requests added %d destinations", len(ds))
	}

	d, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch, Key: twitchKey, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{"", 400, "got nothing"},
		{`{"kind": "youtube"}`, 400, "unknown field"},
		{`{"enabled": "yes"}`, 400, "request body"},
		{`{"key": ""}`, 400, "key required"},
		{`{"key": "a/` + twitchKey + `"}`, 400, "'/'"},
		{`{"url": "rtmp://h/app/` + twitchKey + `"}`, 400, "holds the key"},
	} {
		a := call(t, srv, "PATCH", base+"/"+d.ID, bearer, tc.body)
		checkAnswer(t, "PATCH "+tc.want, a)
		if msg := errorOf(t, a); a.status != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("PATCH %.50q: %d %s, want %d and %q", tc.body, a.status, msg, tc.status, tc.want)
		}
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || !sameDestination(ds[0], d) {
		t.Errorf("bad PATCHes changed the destination: %+v", ds)
	}

	// One too many.
	for range MaxDestinations - 1 {
		if a := call(t, srv, "POST", base, bearer, `{"kind": "youtube", "key": "`+youtubeKey+`"}`); a.status != http.StatusCreated {
			t.Fatalf("add: %d %s", a.status, a.body)
		}
	}
	a := call(t, srv, "POST", base, bearer, `{"kind": "youtube", "key": "`+youtubeKey+`"}`)
	if msg := errorOf(t, a); a.status != http.StatusBadRequest || !strings.Contains(msg, "the most it may have") {
		t.Errorf("destination %d: %d %s, want 400", MaxDestinations+1, a.status, a.body)
	}
}

func TestAdminDestinationsMethodsAndAuth(t *testing.T) {
	srv, s := adminServer(t, testToken, nil)
	ch, _, err := s.Create(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.AddDestination(context.Background(), ch.ID, Destination{Kind: KindTwitch, Key: twitchKey})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/channels/" + ch.ID + "/destinations"
	for _, r := range []struct{ method, path, allow string }{
		{"PUT", base, "GET, POST"},
		{"DELETE", base, "GET, POST"},
		{"PATCH", base, "GET, POST"},
		{"POST", base + "/" + d.ID, "GET, PATCH, DELETE"},
		{"PUT", base + "/" + d.ID, "GET, PATCH, DELETE"},
	} {
		a := call(t, srv, r.method, r.path, bearer, "")
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != r.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q", r.method, r.path, a.status, a.header.Get("Allow"), r.allow)
		}
		errorOf(t, a)
	}
	// Without the token, nothing: not even the redacted list.
	for _, r := range []struct{ method, path, body string }{
		{"GET", base, ""},
		{"POST", base, `{"kind": "youtube", "key": "` + youtubeKey + `"}`},
		{"GET", base + "/" + d.ID, ""},
		{"PATCH", base + "/" + d.ID, `{"enabled": true}`},
		{"DELETE", base + "/" + d.ID, ""},
	} {
		for _, auth := range []string{"", "Bearer wrong"} {
			a := call(t, srv, r.method, r.path, auth, r.body)
			checkAnswer(t, "unauthenticated", a)
			if a.status != http.StatusUnauthorized || strings.Contains(a.body, d.ID) {
				t.Errorf("%s %s with Authorization %q: %d %s, want 401", r.method, r.path, auth, a.status, a.body)
			}
		}
	}
	if ds, _ := s.Destinations(context.Background(), ch.ID); len(ds) != 1 || ds[0].Enabled {
		t.Errorf("unauthenticated requests changed the destinations: %+v", ds)
	}
}
