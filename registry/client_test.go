package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestClient(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	srv, s := adminServer(t, testToken, nil)
	defer srv.Close()
	ctx := context.Background()
	c := &Client{URL: srv.URL + "/", Token: testToken, HTTP: srv.Client()}

	ch, key, err := c.Create(ctx, "Remote show")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, key); err != nil || got.ID != ch.ID || got.Name != "Remote show" {
		t.Fatalf("the key Client.Create returned: %+v, %v", got, err)
	}
	if cs, err := c.List(ctx); err != nil || len(cs) != 1 || !sameChannel(cs[0], ch) {
		t.Errorf("List = %+v, %v", cs, err)
	}
	if got, err := c.Get(ctx, ch.ID); err != nil || !sameChannel(got, ch) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	// Settings: what is sent is what the server stores, null included.
	ten := Duration(10 * time.Second)
	if got, err := c.UpdateSettings(ctx, ch.ID, SettingsUpdate{ReconnectWindow: &ten, KeepOnUnpublish: ptr(true)}); err != nil ||
		got.ID != ch.ID || got.Settings.ReconnectWindowOr(0) != 10*time.Second || !got.Settings.KeepOnUnpublish {
		t.Errorf("UpdateSettings = %+v, %v", got, err)
	}
	if got, err := c.UpdateSettings(ctx, ch.ID, SettingsUpdate{DefaultReconnectWindow: true}); err != nil ||
		got.Settings.ReconnectWindow != nil || !got.Settings.KeepOnUnpublish {
		t.Errorf("UpdateSettings(the server's window) = %+v, %v", got.Settings, err)
	}
	if got, err := s.Get(ctx, ch.ID); err != nil || got.Settings.ReconnectWindow != nil || !got.Settings.KeepOnUnpublish {
		t.Errorf("the store after UpdateSettings: %+v, %v", got.Settings, err)
	}
	hours := Duration(2 * time.Hour)
	if _, err := c.UpdateSettings(ctx, ch.ID, SettingsUpdate{ReconnectWindow: &hours}); !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), "reconnect_window") {
		t.Errorf("UpdateSettings(2h): %v, want ErrInvalidSettings with the server's reason", err)
	}
	rotated, key2, err := c.Rotate(ctx, ch.ID)
	if err != nil || rotated.ID != ch.ID || key2 == key {
		t.Fatalf("Rotate = %+v, %v", rotated, err)
	}
	if _, err := s.Authenticate(ctx, key2); err != nil {
		t.Errorf("the rotated key: %v", err)
	}
	if err := c.Revoke(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	if cs, err := c.List(ctx); err != nil || cs == nil || len(cs) != 0 {
		t.Errorf("List after Revoke = %#v, %v; want an empty list", cs, err)
	}

	// The Store's sentinels come through.
	for name, err := range map[string]error{
		"Get":                       second(c.Get(ctx, ch.ID)),
		"Rotate":                    third(c.Rotate(ctx, ch.ID)),
		"Revoke":                    c.Revoke(ctx, ch.ID),
		"Get of an id with a slash": second(c.Get(ctx, "a/b")),
		"UpdateSettings":            second(c.UpdateSettings(ctx, ch.ID, SettingsUpdate{KeepOnUnpublish: ptr(false)})),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a revoked channel: %v, want ErrNotFound", name, err)
		}
	}
	if _, _, err := c.Create(ctx, "two\nlines"); !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), "control character") {
		t.Errorf("Create with a bad name: %v, want ErrInvalidName with the server's reason", err)
	}
	srv.Close()
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := adminServer(t, testToken, nil)
	const wrong = "not-the-token-1234"

	_, err := (&Client{URL: srv.URL, Token: wrong, HTTP: srv.Client()}).List(ctx)
	if !errors.Is(err, errTokenRejected) || !strings.Contains(err.Error(), "admin token rejected") {
		t.Errorf("wrong token: %v, want admin token rejected", err)
	}
	if err != nil && strings.Contains(err.Error(), wrong) {
		t.Errorf("the error quotes the token: %v", err)
	}

	// Nothing listening: a port that was free a moment ago.
	dead := "http://" + testenv.FreeAddr(t)
	_, _, err = (&Client{URL: dead, Token: wrong}).Create(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), dead) {
		t.Errorf("no server: %v, want connection refused naming %s", err, dead)
	}
	if err != nil && strings.Contains(err.Error(), wrong) {
		t.Errorf("the error quotes the token: %v", err)
	}

	// A password in the URL stays out of errors too.
	_, err = (&Client{URL: "http://user:hunter2@" + strings.TrimPrefix(dead, "http://"), Token: wrong}).List(ctx)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error quotes the URL's password: %v", err)
	}

	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://"} {
		if _, err := (&Client{URL: u, Token: wrong}).List(ctx); err == nil || !strings.Contains(err.Error(), "admin URL") {
			t.Errorf("URL %q: %v, want an admin URL error", u, err)
		}
	}

	// A 404 from something that is not the admin API is not ErrNotFound.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if _, err := (&Client{URL: other.URL, Token: wrong}).Get(ctx, "ch_aaaaaaaaaaaa"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("404 from another server: %v, want an error other than ErrNotFound", err)
	}
}
