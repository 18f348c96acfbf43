package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRedisStoreDestinations(t *testing.T) {
	ctx := context.Background()
	s, _ := openRedisTemp(t)
	var heard recorder
	defer s.Subscribe(heard.hear)()
	ch, _, err := s.Create(ctx, "relayed")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	tw, err := s.AddDestination(ctx, ch.ID, Destination{ID: "ds_chosen00", Kind: KindTwitch, Key: twitchKey, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if !validDestinationID(tw.ID) || tw.ID == "ds_chosen00" || tw.CreatedAt.Before(before) || tw.Key != twitchKey {
		t.Errorf("AddDestination returned %+v", tw)
	}
	cu, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindCustom, URL: customURL})
	if err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "two adds", Change{ch.ID, DestinationsChanged}, Change{ch.ID, DestinationsChanged})
	if ds, err := s.Destinations(ctx, ch.ID); err != nil || len(ds) != 2 || !sameDestination(ds[0], tw) || !sameDestination(ds[1], cu) {
		t.Fatalf("Destinations = %+v, %v; want the two added, oldest first", ds, err)
	}

	// An update that changes nothing is not heard; one that would make
	// the destination invalid changes nothing.
	if _, err := s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "enabling an enabled destination")
	_, err = s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Key: ptr("")})
	if !errors.Is(err, ErrInvalidDestination) {
		t.Errorf("update to an empty key: %v", err)
	}
	upd, err := s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: ptr(false)})
	if err != nil || upd.Enabled || upd.Key != twitchKey {
		t.Fatalf("disable = %+v, %v", upd, err)
	}
	heard.expect(t, "disabling", Change{ch.ID, DestinationsChanged})

	if err := s.DeleteDestination(ctx, ch.ID, tw.ID); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "DeleteDestination", Change{ch.ID, DestinationsChanged})
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || ds[0].ID != cu.ID {
		t.Errorf("after deleting one, Destinations = %+v", ds)
	}

	sk := newStreamKey()
	for name, err := range map[string]error{
		"Destinations of a stream key": second(s.Destinations(ctx, sk)),
		"AddDestination to no channel": second(s.AddDestination(ctx, "ch_aaaaaaaaaaaa", Destination{Kind: KindTwitch, Key: twitchKey})),
		"UpdateDestination of a key":   second(s.UpdateDestination(ctx, sk, cu.ID, DestinationUpdate{})),
		"DeleteDestination on no chan": s.DeleteDestination(ctx, "ch_aaaaaaaaaaaa", cu.ID),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		checkNoSecret(t, err, sk, twitchKey)
	}
	for name, err := range map[string]error{
		"update of a deleted destination":   second(s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{})),
		"delete of a deleted destination":   s.DeleteDestination(ctx, ch.ID, tw.ID),
		"delete of a key as destination id": s.DeleteDestination(ctx, ch.ID, twitchKey),
	} {
		if !errors.Is(err, ErrNoDestination) {
			t.Errorf("%s: %v, want ErrNoDestination", name, err)
		}
		checkNoSecret(t, err, twitchKey)
	}
	for _, tc := range destinationCases {
		if tc.want == "" {
			continue
		}
		_, err := s.AddDestination(ctx, ch.ID, tc.d)
		if !errors.Is(err, ErrInvalidDestination) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: AddDestination = %v, want ErrInvalidDestination about %q", tc.name, err, tc.want)
		}
		checkNoSecret(t, err, twitchKey, youtubeKey, facebookKey, fbQuery, customName)
	}
	heard.expect(t, "failed calls")

	// Rotating keeps the destinations.
	if _, _, err := s.Rotate(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "Rotate", Change{ch.ID, KeyChanged})
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || !sameDestination(ds[0], cu) {
		t.Errorf("after Rotate, Destinations = %+v", ds)
	}
}

// TestRedisStoreConcurrentDestinations adds the most destinations a
// channel may have, and one more, all at once through two stores: the
// optimistic transactions lose none and let no extra one in.
func TestRedisStoreConcurrentDestinations(t *testing.T) {
	ctx := context.Background()
	a, url := openRedisTemp(t)
	b := openRedisURL(t, url)
	ch, _, err := a.Create(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, MaxDestinations+1)
	for i := range MaxDestinations + 1 {
		s := []*RedisStore{a, b}[i%2]
		wg.Go(func() {
			_, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch, Key: fmt.Sprint("live_", i), Enabled: true})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if errors.Is(err, ErrInvalidDestination) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Destinations(ctx, ch.ID)
	if err != nil || len(ds) != MaxDestinations || refused != 1 {
		t.Fatalf("%d destinations and %d refused after %d concurrent adds: %v", len(ds), refused, MaxDestinations+1, err)
	}
	ids := map[string]bool{}
	for _, d := range ds {
		if ids[d.ID] {
			t.Fatalf("destination id %s used twice", d.ID)
		}
		ids[d.ID] = true
	}
}
