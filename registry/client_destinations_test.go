package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

func TestClientDestinations(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	srv, s := adminServer(t, testToken, nil)
	defer srv.Close()
	ctx := context.Background()
	c := &Client{URL: srv.URL, Token: testToken, HTTP: srv.Client()}
	ch, _, err := s.Create(ctx, "remote")
	if err != nil {
		t.Fatal(err)
	}

	if ds, err := c.Destinations(ctx, ch.ID); err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("Destinations of none = %#v, %v; want an empty list", ds, err)
	}
	// Add: stored in full, answered redacted; Enabled false is sent as
	// such, not left to the server's default.
	tw, err := c.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch, Key: twitchKey, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if !validDestinationID(tw.ID) || tw.Key != "…0123" || !tw.Enabled {
		t.Errorf("AddDestination = %+v", tw)
	}
	cu, err := c.AddDestination(ctx, ch.ID, Destination{Kind: KindCustom, URL: customURL})
	if err != nil {
		t.Fatal(err)
	}
	if cu.Enabled || cu.URL != "rtmps://ingest.example.com:4443/live/app/…0042" {
		t.Errorf("AddDestination of a disabled custom one = %+v", cu)
	}
	stored, err := s.Destinations(ctx, ch.ID)
	if err != nil || len(stored) != 2 || stored[0].Key != twitchKey || stored[1].URL != customURL || stored[1].Enabled {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
	if ds, err := c.Destinations(ctx, ch.ID); err != nil || len(ds) != 2 || ds[0] != tw || ds[1] != cu {
		t.Errorf("Destinations = %+v, %v", ds, err)
	}
	// A redacted destination from the Client redacts to itself.
	if tw.Redacted() != tw || cu.Redacted() != cu {
		t.Errorf("Redacted changed what the Client returned")
	}

	on := true
	upd, err := c.UpdateDestination(ctx, ch.ID, cu.ID, DestinationUpdate{Enabled: &on})
	if err != nil || !upd.Enabled || upd.ID != cu.ID {
		t.Errorf("UpdateDestination = %+v, %v", upd, err)
	}
	if err := c.DeleteDestination(ctx, ch.ID, tw.ID); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || ds[0].ID != cu.ID || !ds[0].Enabled {
		t.Errorf("after update and delete, stored: %+v", ds)
	}

	// The Store's sentinels come through, without a secret.
	for name, tc := range map[string]struct {
		err  error
		want error
	}{
		"Destinations of no channel": {second(c.Destinations(ctx, "ch_aaaaaaaaaaaa")), ErrNotFound},
		"Add to no channel":          {second(c.AddDestination(ctx, "ch_aaaaaaaaaaaa", Destination{Kind: KindTwitch, Key: twitchKey})), ErrNotFound},
		"Update of a deleted one":    {second(c.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: &on})), ErrNoDestination},
		"Delete of a deleted one":    {c.DeleteDestination(ctx, ch.ID, tw.ID), ErrNoDestination},
		"Delete of a key as an id":   {c.DeleteDestination(ctx, ch.ID, twitchKey), ErrNoDestination},
		"Update on no channel":       {second(c.UpdateDestination(ctx, "ch_aaaaaaaaaaaa", cu.ID, DestinationUpdate{Key: ptr(twitchKey)})), ErrNotFound},
		"Add of a bad key":           {second(c.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch, Key: twitchKey + " x"})), ErrInvalidDestination},
		"Add of an http URL":         {second(c.AddDestination(ctx, ch.ID, Destination{Kind: KindCustom, URL: "http://h/live/" + customName})), ErrInvalidDestination},
		"Update to a bad URL":        {second(c.UpdateDestination(ctx, ch.ID, cu.ID, DestinationUpdate{URL: ptr("rtmp://h/" + customName)})), ErrInvalidDestination},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", name, tc.err, tc.want)
		}
		for _, s := range secrets {
			if tc.err != nil && strings.Contains(tc.err.Error(), s) {
				t.Errorf("%s: the error quotes a secret: %v", name, tc.err)
			}
		}
	}
	_, err = c.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch})
	if !errors.Is(err, ErrInvalidDestination) || !strings.Contains(err.Error(), "key required") || errors.Is(err, ErrInvalidName) {
		t.Errorf("Add without a key: %v, want ErrInvalidDestination with the server's reason", err)
	}
	srv.Close()
}
