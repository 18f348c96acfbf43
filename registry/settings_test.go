package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func window(d time.Duration) *Duration { w := Duration(d); return &w }

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`"30s"`, 30 * time.Second, true},
		{`"0s"`, 0, true},
		{`"0"`, 0, true},
		{`"1m30s"`, 90 * time.Second, true},
		{`"1.5s"`, 1500 * time.Millisecond, true},
		{`"-5s"`, -5 * time.Second, true}, // parsed; Validate refuses it
		{`30`, 0, false},
		{`30000000000`, 0, false},
		{`"30"`, 0, false},
		{`"soon"`, 0, false},
		{`true`, 0, false},
		{`{}`, 0, false},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tc.in), &d)
		if (err == nil) != tc.ok || (tc.ok && time.Duration(d) != tc.want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v, ok %v", tc.in, time.Duration(d), err, tc.want, tc.ok)
			continue
		}
		if !tc.ok {
			if strings.Contains(err.Error(), "soon") {
				t.Errorf("Unmarshal(%s): the error quotes the value: %v", tc.in, err)
			}
			continue
		}
		out, err := json.Marshal(d)
		var back Duration
		if err != nil || json.Unmarshal(out, &back) != nil || back != d {
			t.Errorf("round trip of %v: %s, %v", time.Duration(d), out, err)
		}
	}
	if out, _ := json.Marshal(Duration(30 * time.Second)); string(out) != `"30s"` {
		t.Errorf("Marshal(30s) = %s", out)
	}
}

func TestChannelSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		s  ChannelSettings
		ok bool
	}{
		{ChannelSettings{}, true},
		{ChannelSettings{KeepOnUnpublish: true}, true},
		{ChannelSettings{ReconnectWindow: window(0)}, true},
		{ChannelSettings{ReconnectWindow: window(MaxReconnectWindow)}, true},
		{ChannelSettings{ReconnectWindow: window(MaxReconnectWindow + time.Nanosecond)}, false},
		{ChannelSettings{ReconnectWindow: window(-time.Second)}, false},
	} {
		err := tc.s.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.s, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), "reconnect_window")) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidSettings naming reconnect_window", tc.s, err)
		}
	}
	if got := (ChannelSettings{}).ReconnectWindowOr(30 * time.Second); got != 30*time.Second {
		t.Errorf("no window of its own: %v, want the server's", got)
	}
	if got := (ChannelSettings{ReconnectWindow: window(0)}).ReconnectWindowOr(30 * time.Second); got != 0 {
		t.Errorf("a window of 0: %v, want 0 (not the server's)", got)
	}
}

func TestSettingsUpdateJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    SettingsUpdate
		wantErr string
	}{
		{`{}`, SettingsUpdate{}, ""},
		{`{"reconnect_window": "10s"}`, SettingsUpdate{ReconnectWindow: window(10 * time.Second)}, ""},
		{`{"reconnect_window": null}`, SettingsUpdate{DefaultReconnectWindow: true}, ""},
		{`{"keep_on_unpublish": true}`, SettingsUpdate{KeepOnUnpublish: ptr(true)}, ""},
		{`{"keep_on_unpublish": false, "reconnect_window": "0s"}`, SettingsUpdate{KeepOnUnpublish: ptr(false), ReconnectWindow: window(0)}, ""},
		{`{"reconnect_window": 10}`, SettingsUpdate{}, "reconnect_window: want a duration"},
		{`{"reconnect_window": "ten seconds"}`, SettingsUpdate{}, "reconnect_window: want a duration"},
		{`{"keep_on_unpublish": null}`, SettingsUpdate{}, "keep_on_unpublish: want true or false"},
		{`{"keep_on_unpublish": "yes"}`, SettingsUpdate{}, "keep_on_unpublish: want true or false"},
		{`{"reconnect_windw": "10s"}`, SettingsUpdate{}, `unknown field "reconnect_windw"`},
		{`{"name": "x"}`, SettingsUpdate{}, `unknown field "name"`},
		{`[]`, SettingsUpdate{}, "want a JSON object"},
		{`"10s"`, SettingsUpdate{}, "want a JSON object"},
	} {
		var u SettingsUpdate
		err := json.Unmarshal([]byte(tc.in), &u)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Unmarshal(%s) = %v, want an error about %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !sameUpdate(u, tc.want) {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tc.in, u, err, tc.want)
			continue
		}
		// What the Client sends reads back as the same update.
		out, err := json.Marshal(u)
		var back SettingsUpdate
		if err != nil || json.Unmarshal(out, &back) != nil || !sameUpdate(back, u) {
			t.Errorf("round trip of %s: %s, %v", tc.in, out, err)
		}
	}
}

func sameUpdate(a, b SettingsUpdate) bool {
	return (ChannelSettings{ReconnectWindow: a.ReconnectWindow}).equal(ChannelSettings{ReconnectWindow: b.ReconnectWindow}) &&
		a.DefaultReconnectWindow == b.DefaultReconnectWindow &&
		(a.KeepOnUnpublish == nil) == (b.KeepOnUnpublish == nil) &&
		(a.KeepOnUnpublish == nil || *a.KeepOnUnpublish == *b.KeepOnUnpublish)
}

// checkStoreSettings runs the UpdateSettings contract on s, whose
// subscribers heard tells: partial updates, every read returning the
// settings (Authenticate above all: a server reads them at publish), one
// SettingsChanged per change and none for no change, bad values refused
// with the field named and nothing stored.
func checkStoreSettings(t *testing.T, s Store, heard *recorder) Channel {
	t.Helper()
	ctx := context.Background()
	c, key, err := s.Create(ctx, "configured")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Settings.IsZero() {
		t.Fatalf("a new channel has settings: %+v", c.Settings)
	}
	heard.take()

	got, err := s.UpdateSettings(ctx, c.ID, SettingsUpdate{ReconnectWindow: window(10 * time.Second)})
	if err != nil || got.ID != c.ID || got.Settings.ReconnectWindowOr(time.Hour) != 10*time.Second || got.Settings.KeepOnUnpublish {
		t.Fatalf("UpdateSettings(10s) = %+v, %v", got, err)
	}
	heard.expect(t, "UpdateSettings", Change{c.ID, SettingsChanged})
	got, err = s.UpdateSettings(ctx, c.ID, SettingsUpdate{KeepOnUnpublish: ptr(true)})
	if err != nil || got.Settings.ReconnectWindowOr(time.Hour) != 10*time.Second || !got.Settings.KeepOnUnpublish {
		t.Fatalf("UpdateSettings(keep) = %+v, %v; want the window kept", got.Settings, err)
	}
	heard.expect(t, "the second UpdateSettings", Change{c.ID, SettingsChanged})
	want := got

	// Every read has them.
	if a, err := s.Authenticate(ctx, key); err != nil || !sameChannel(a, want) {
		t.Errorf("Authenticate = %+v, %v; want %+v", a, err, want)
	}
	if g, err := s.Get(ctx, c.ID); err != nil || !sameChannel(g, want) {
		t.Errorf("Get = %+v, %v", g, err)
	}
	if g, err := s.ByPlaybackID(ctx, c.PlaybackID); err != nil || !sameChannel(g, want) {
		t.Errorf("ByPlaybackID = %+v, %v", g, err)
	}
	cs, err := s.List(ctx)
	if i := slices.IndexFunc(cs, func(l Channel) bool { return l.ID == c.ID }); err != nil || i < 0 || !sameChannel(cs[i], want) {
		t.Errorf("List = %+v, %v", cs, err)
	}

	// No change, nothing heard.
	if _, err := s.UpdateSettings(ctx, c.ID, SettingsUpdate{KeepOnUnpublish: ptr(true), ReconnectWindow: window(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSettings(ctx, c.ID, SettingsUpdate{}); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "updates that change nothing")

	// Refused: nothing stored, nothing heard, the field named.
	for name, u := range map[string]SettingsUpdate{
		"over an hour":       {ReconnectWindow: window(MaxReconnectWindow + time.Second), KeepOnUnpublish: ptr(false)},
		"negative":           {ReconnectWindow: window(-time.Second)},
		"window and default": {ReconnectWindow: window(time.Second), DefaultReconnectWindow: true},
	} {
		_, err := s.UpdateSettings(ctx, c.ID, u)
		if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), "reconnect_window") {
			t.Errorf("%s: %v, want ErrInvalidSettings naming reconnect_window", name, err)
		}
	}
	if g, _ := s.Get(ctx, c.ID); !sameChannel(g, want) {
		t.Errorf("refused updates changed the channel: %+v", g.Settings)
	}
	heard.expect(t, "refused updates")

	// A rotation keeps them; 0 is a window of its own; null the server's.
	if r, _, err := s.Rotate(ctx, c.ID); err != nil || !r.Settings.equal(want.Settings) {
		t.Errorf("Rotate = %+v, %v; want the settings kept", r.Settings, err)
	}
	heard.take()
	got, err = s.UpdateSettings(ctx, c.ID, SettingsUpdate{ReconnectWindow: window(0)})
	if err != nil || got.Settings.ReconnectWindow == nil || got.Settings.ReconnectWindowOr(time.Hour) != 0 {
		t.Errorf("UpdateSettings(0s) = %+v, %v; want a window of 0", got.Settings, err)
	}
	got, err = s.UpdateSettings(ctx, c.ID, SettingsUpdate{DefaultReconnectWindow: true})
	if err != nil || got.Settings.ReconnectWindow != nil || !got.Settings.KeepOnUnpublish {
		t.Errorf("UpdateSettings(default) = %+v, %v; want the server's window, keep kept", got.Settings, err)
	}
	heard.expect(t, "0s then the default", Change{c.ID, SettingsChanged}, Change{c.ID, SettingsChanged})

	// Unknown channels; a key in the id's place is not quoted.
	for _, id := range []string{"ch_aaaaaaaaaaaa", key} {
		_, err := s.UpdateSettings(ctx, id, SettingsUpdate{KeepOnUnpublish: ptr(true)})
		if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), key) {
			t.Errorf("UpdateSettings of an unknown channel: %v, want ErrNotFound without the id quoted", err)
		}
	}
	got, err = s.UpdateSettings(ctx, c.ID, SettingsUpdate{ReconnectWindow: window(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	heard.take()
	return got
}

func TestFileStoreSettings(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ctx := context.Background()
	s, path := openTemp(t)
	var heard recorder
	defer s.Subscribe(heard.hear)()
	other, _, err := s.Create(ctx, "no settings")
	if err != nil {
		t.Fatal(err)
	}
	c := checkStoreSettings(t, s, &heard)

	// Stored in the file, and only for the channel that has them.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"settings"`); n != 1 || !strings.Contains(string(data), `"reconnect_window": "5m0s"`) {
		t.Errorf("the file holds %d settings, want 1 with the window:\n%s", n, data)
	}
	// Another process (another FileStore on the file) reads them, and
	// hears of the next change when it next reads the file.
	s2 := openPath(t, path)
	var heard2 recorder
	defer s2.Subscribe(heard2.hear)()
	if g, err := s2.Get(ctx, c.ID); err != nil || !sameChannel(g, c) {
		t.Fatalf("another FileStore reads %+v, %v; want %+v", g, err, c)
	}
	if g, err := s2.Get(ctx, other.ID); err != nil || !g.Settings.IsZero() {
		t.Errorf("the channel without settings reads %+v, %v", g.Settings, err)
	}
	if _, err := s.UpdateSettings(ctx, c.ID, SettingsUpdate{KeepOnUnpublish: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if g, err := s2.Get(ctx, c.ID); err != nil || g.Settings.KeepOnUnpublish {
		t.Errorf("another FileStore reads %+v, %v after the change", g.Settings, err)
	}
	// Told by the Get above or by s2's poll, whichever read the file first.
	testenv.WaitFor(t, 5*time.Second, func() bool {
		heard2.mu.Lock()
		defer heard2.mu.Unlock()
		return len(heard2.changes) > 0
	}, "the other FileStore to hear of the change")
	heard2.expect(t, "another FileStore's UpdateSettings", Change{c.ID, SettingsChanged})
	s2.Close()
	s.Close()
}
