package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

func TestRedisStoreSettings(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t) // before CheckGoroutines: the server outlives the check
	defer testenv.CheckGoroutines(t)()
	s, b := openRedisURL(t, url), openRedisURL(t, url)
	var heard recorder
	defer s.Subscribe(heard.hear)()
	heardB := make(chan Change, 64) // room for every change of the test: fn must not block
	defer b.Subscribe(func(c Change) { heardB <- c })()

	// A channel as a livestream from before settings stored it: no
	// "settings" in its JSON. It loads, with none.
	old, key, err := s.Create(ctx, "stored by an older server")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := s.load(ctx, s.rdb, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	legacy := `{"channel_id": "` + old.ID + `", "name": "stored by an older server", "playback_id": "` + old.PlaybackID +
		`", "created_at": "2026-01-01T00:00:00Z", "key_rotated_at": "2026-01-01T00:00:00Z", "key_sha256": "` + fc.KeyHash + `"}`
	if err := s.rdb.Set(ctx, redisChannelKey(old.ID), legacy, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, key); err != nil || got.ID != old.ID || !got.Settings.IsZero() {
		t.Fatalf("a channel stored without settings: %+v, %v", got, err)
	}
	heard.take()

	c := checkStoreSettings(t, s, &heard)

	// Stored in the channel's JSON; a channel without settings is
	// stored as before them, so older servers still read it.
	if v := s.rdb.Get(ctx, redisChannelKey(c.ID)).Val(); !strings.Contains(v, `"settings":{"reconnect_window":"5m0s","keep_on_unpublish":true}`) {
		t.Errorf("ls:ch:%s = %s, want the settings in it", c.ID, v)
	}
	if _, err := s.UpdateSettings(ctx, old.ID, SettingsUpdate{KeepOnUnpublish: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateSettings(ctx, old.ID, SettingsUpdate{KeepOnUnpublish: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if v := s.rdb.Get(ctx, redisChannelKey(old.ID)).Val(); strings.Contains(v, "settings") {
		t.Errorf("a channel whose settings are all the server's again is stored with them: %s", v)
	}
	heard.take()

	// Another RedisStore of the cluster reads them and hears of changes.
	if got, err := b.Get(ctx, c.ID); err != nil || !sameChannel(got, c) {
		t.Errorf("b.Get = %+v, %v; want %+v", got, err, c)
	}
	// b has heard the changes above once it hears a marker made after
	// them: pub/sub delivers in order.
	if _, _, err := s.Rotate(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	for marker := (Change{old.ID, KeyChanged}); ; {
		select {
		case got := <-heardB:
			if got != marker {
				continue
			}
		case <-time.After(5 * time.Second):
			t.Fatal("b did not hear the rotation")
		}
		break
	}
	if _, err := s.UpdateSettings(ctx, c.ID, SettingsUpdate{ReconnectWindow: window(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-heardB:
		if got != (Change{c.ID, SettingsChanged}) {
			t.Errorf("b heard %v, want %s's settings changed", got, c.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b did not hear of the settings change")
	}
	if got, err := b.Get(ctx, c.ID); err != nil || got.Settings.ReconnectWindowOr(0) != time.Minute {
		t.Errorf("b.Get after the change: %+v, %v", got.Settings, err)
	}
	s.Close()
	b.Close()
}
