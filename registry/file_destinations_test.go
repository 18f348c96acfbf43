package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// recorder collects what a subscriber hears.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) hear(c Change) { r.mu.Lock(); r.changes = append(r.changes, c); r.mu.Unlock() }

// take returns what was heard since the last take.
func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

// expect checks that exactly want was heard since the last take.
func (r *recorder) expect(t *testing.T, after string, want ...Change) {
	t.Helper()
	got := r.take()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after %s, subscribers heard %v, want %v", after, got, want)
	}
}

func TestFileStoreDestinations(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ctx := context.Background()
	s, path := openTemp(t)
	var heard recorder
	defer s.Subscribe(heard.hear)()

	ch, _, err := s.Create(ctx, "relayed")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := s.Destinations(ctx, ch.ID); err != nil || len(ds) != 0 {
		t.Fatalf("a new channel's destinations: %v, %v", ds, err)
	}

	// Add: ID and CreatedAt are the store's, whatever was passed; the
	// answer and Destinations hold the key in full, for the relays.
	before := time.Now()
	tw, err := s.AddDestination(ctx, ch.ID, Destination{ID: "ds_chosen00", Kind: KindTwitch, Key: twitchKey, Enabled: true, CreatedAt: before.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !validDestinationID(tw.ID) || tw.ID == "ds_chosen00" || tw.CreatedAt.Before(before) || tw.Key != twitchKey || tw.Kind != KindTwitch || !tw.Enabled {
		t.Errorf("AddDestination returned %+v", tw)
	}
	heard.expect(t, "AddDestination", Change{ch.ID, DestinationsChanged})
	cu, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindCustom, URL: customURL})
	if err != nil {
		t.Fatal(err)
	}
	if cu.Enabled || cu.URL != customURL || cu.ID == tw.ID {
		t.Errorf("AddDestination of a disabled custom destination returned %+v", cu)
	}
	heard.take()
	ds, err := s.Destinations(ctx, ch.ID)
	if err != nil || len(ds) != 2 || !sameDestination(ds[0], tw) || !sameDestination(ds[1], cu) {
		t.Fatalf("Destinations = %+v, %v; want the two added, oldest first", ds, err)
	}
	ds[0].Key = "changed by the caller"
	if again, _ := s.Destinations(ctx, ch.ID); again[0].Key != twitchKey {
		t.Errorf("changing what Destinations returned changed the store")
	}
	if ds, err := s.Destinations(ctx, other.ID); err != nil || len(ds) != 0 {
		t.Errorf("the other channel has destinations: %v, %v", ds, err)
	}

	// Update: only what is given changes, and an update that changes
	// nothing is not heard.
	off := false
	upd, err := s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: &off})
	if err != nil || upd.Enabled || upd.Key != twitchKey || upd.ID != tw.ID || !upd.CreatedAt.Equal(tw.CreatedAt) {
		t.Fatalf("disable = %+v, %v", upd, err)
	}
	heard.expect(t, "disabling", Change{ch.ID, DestinationsChanged})
	if _, err := s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "disabling a disabled destination")
	newKey, base := "live_999_NewKeyNewKeyNewKey", "rtmp://live-cdg.twitch.tv/app"
	upd, err = s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Key: &newKey, URL: &base})
	if err != nil || upd.Key != newKey || upd.URL != base || upd.Enabled {
		t.Fatalf("new key and base URL = %+v, %v", upd, err)
	}
	heard.expect(t, "changing the key", Change{ch.ID, DestinationsChanged})
	empty := ""
	if upd, err = s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{URL: &empty}); err != nil || upd.URL != "" {
		t.Fatalf("removing the base URL = %+v, %v", upd, err)
	}
	heard.take()

	// An update that would make it invalid changes nothing.
	for name, u := range map[string]DestinationUpdate{
		"empty key":          {Key: &empty},
		"key with a space":   {Key: ptr("live_1 " + twitchKey)},
		"key on custom":      {Key: ptr(twitchKey)},
		"custom without URL": {URL: &empty},
		"http URL":           {URL: ptr("http://example.com/app/" + customName)},
	} {
		id := tw.ID
		if strings.Contains(name, "custom") {
			id = cu.ID
		}
		_, err := s.UpdateDestination(ctx, ch.ID, id, u)
		if !errors.Is(err, ErrInvalidDestination) {
			t.Errorf("update with %s: %v, want ErrInvalidDestination", name, err)
		}
		checkNoSecret(t, err, twitchKey, customName)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); !sameDestination(ds[0], upd) || !sameDestination(ds[1], cu) {
		t.Errorf("refused updates changed the destinations: %+v", ds)
	}
	heard.expect(t, "refused updates")

	// Delete.
	if err := s.DeleteDestination(ctx, ch.ID, tw.ID); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "DeleteDestination", Change{ch.ID, DestinationsChanged})
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != 1 || ds[0].ID != cu.ID {
		t.Errorf("after deleting one, Destinations = %+v", ds)
	}

	// Unknown channels and destinations, and ids that are keys pasted in
	// the wrong place: the errors quote neither.
	sk := newStreamKey()
	for name, err := range map[string]error{
		"Destinations of a stream key": second(s.Destinations(ctx, sk)),
		"AddDestination to a revoked":  second(s.AddDestination(ctx, "ch_aaaaaaaaaaaa", Destination{Kind: KindTwitch, Key: twitchKey})),
		"UpdateDestination of a key":   second(s.UpdateDestination(ctx, sk, cu.ID, DestinationUpdate{Enabled: &off})),
		"DeleteDestination on no chan": s.DeleteDestination(ctx, "ch_aaaaaaaaaaaa", cu.ID),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		checkNoSecret(t, err, sk, twitchKey)
	}
	for name, err := range map[string]error{
		"update of a deleted destination":   second(s.UpdateDestination(ctx, ch.ID, tw.ID, DestinationUpdate{Enabled: &off})),
		"delete of a deleted destination":   s.DeleteDestination(ctx, ch.ID, tw.ID),
		"update of another channel's":       second(s.UpdateDestination(ctx, other.ID, cu.ID, DestinationUpdate{Enabled: &off})),
		"delete of a key as destination id": s.DeleteDestination(ctx, ch.ID, twitchKey),
		"update of a key as destination id": second(s.UpdateDestination(ctx, ch.ID, twitchKey, DestinationUpdate{})),
	} {
		if !errors.Is(err, ErrNoDestination) {
			t.Errorf("%s: %v, want ErrNoDestination", name, err)
		}
		checkNoSecret(t, err, twitchKey)
	}
	heard.expect(t, "failed calls")

	// Everything survives reopening; the file stays private.
	s.Close()
	s2 := openPath(t, path)
	if ds, err := s2.Destinations(ctx, ch.ID); err != nil || len(ds) != 1 || !sameDestination(ds[0], cu) {
		t.Errorf("after reopening, Destinations = %+v, %v", ds, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the registry file, which holds destination keys: %v, %v", fi.Mode(), err)
	}
	s2.Close()
}

func ptr[T any](v T) *T { return &v }

// checkNoSecret fails if err's text holds any of secrets.
func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
}

func TestFileStoreAddDestinationInvalid(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	var heard recorder
	defer s.Subscribe(heard.hear)()
	ch, _, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range destinationCases {
		_, err := s.AddDestination(ctx, ch.ID, tc.d)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidDestination) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: AddDestination = %v, want ErrInvalidDestination about %q", tc.name, err, tc.want)
		}
		checkNoSecret(t, err, twitchKey, youtubeKey, facebookKey, fbQuery, customName)
	}
	// The valid cases fill the channel up to its limit.
	ds, err := s.Destinations(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	valid := len(ds)
	if len(heard.take()) != valid {
		t.Errorf("refused destinations were heard of")
	}
	for range MaxDestinations - valid {
		if _, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindYouTube, Key: youtubeKey}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.AddDestination(ctx, ch.ID, Destination{Kind: KindYouTube, Key: youtubeKey})
	if !errors.Is(err, ErrInvalidDestination) || !strings.Contains(err.Error(), "16 destinations") {
		t.Errorf("destination %d: %v, want ErrInvalidDestination", MaxDestinations+1, err)
	}
	if ds, _ := s.Destinations(ctx, ch.ID); len(ds) != MaxDestinations {
		t.Errorf("%d destinations, want %d", len(ds), MaxDestinations)
	}
	// Another channel has its own 16.
	ch2, _, err := s.Create(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDestination(ctx, ch2.ID, Destination{Kind: KindYouTube, Key: youtubeKey}); err != nil {
		t.Errorf("a second channel's first destination: %v", err)
	}
}

func TestFileStoreDestinationsRotateRevoke(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	var heard recorder
	defer s.Subscribe(heard.hear)()
	ch, _, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindFacebook, Key: facebookKey + "?" + fbQuery, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	heard.take()

	// Rotating the stream key keeps the destinations, and is heard as a
	// key change only.
	if _, _, err := s.Rotate(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "Rotate", Change{ch.ID, KeyChanged})
	if ds, err := s.Destinations(ctx, ch.ID); err != nil || len(ds) != 1 || !sameDestination(ds[0], d) {
		t.Errorf("after Rotate, Destinations = %+v, %v", ds, err)
	}

	// Revoking deletes them, from the file too, and is heard as a
	// revocation only.
	if err := s.Revoke(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, "Revoke", Change{ch.ID, ChannelRevoked})
	if _, err := s.Destinations(ctx, ch.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("destinations of a revoked channel: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), facebookKey) || strings.Contains(string(data), d.ID) {
		t.Errorf("the file still holds a revoked channel's destination:\n%s", data)
	}
}

// TestFileStoreOldFile opens a file written before destinations existed.
func TestFileStoreOldFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "channels.json")
	old := `{
  "version": 1,
  "channels": [` + goodChannel + `]
}
`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openPath(t, path)
	if ds, err := s.Destinations(ctx, "ch_aaaaaaaaaaaa"); err != nil || len(ds) != 0 {
		t.Fatalf("destinations of a channel from an old file: %v, %v", ds, err)
	}
	// Changing another channel writes the old one as it was.
	if _, _, err := s.Create(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "destinations") {
		t.Errorf("channels without destinations written with them:\n%s", data)
	}
	if _, err := s.AddDestination(ctx, "ch_aaaaaaaaaaaa", Destination{Kind: KindTwitch, Key: twitchKey}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"destinations": [`) {
		t.Errorf("the file lacks the destination added:\n%s", data)
	}
}

// TestFileStoreDestinationsAcrossProcesses has a child process (this test
// binary, running TestHelperDestinations) add, disable and delete
// destinations in the file: a FileStore subscribed here, that nobody
// calls, hears each from its poll of the file.
func TestFileStoreDestinationsAcrossProcesses(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ctx := context.Background()
	s, path := openTemp(t)
	s.poll = 10 * time.Millisecond
	ch, _, err := s.Create(ctx, "relayed")
	if err != nil {
		t.Fatal(err)
	}
	quiet, _, err := s.Create(ctx, "untouched")
	if err != nil {
		t.Fatal(err)
	}
	heard := make(chan Change, 16)
	cancel := s.Subscribe(func(c Change) { heard <- c })
	defer cancel()

	// The child waits for a line on stdin before each step, so that
	// each lands in a version of the file of its own.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDestinations$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REGISTRY_HELPER_FILE="+path, "REGISTRY_HELPER_CHANNEL="+ch.ID)
	step, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer step.Close()
	for _, what := range []string{"add", "disable", "delete"} {
		fmt.Fprintln(step, what)
		select {
		case c := <-heard:
			if c != (Change{ch.ID, DestinationsChanged}) {
				t.Fatalf("after the child's %s, heard %v", what, c)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change heard after the child's %s; child's output:\n%s", what, out.String())
		}
	}
	step.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	select {
	case c := <-heard:
		t.Errorf("heard %v more (%s is untouched)", c, quiet.ID)
	default:
	}
	if ds, err := s.Destinations(ctx, ch.ID); err != nil || len(ds) != 0 {
		t.Errorf("after the child's delete: %v, %v", ds, err)
	}
	cancel()
	s.Close()
}

// TestHelperDestinations is the child of
// TestFileStoreDestinationsAcrossProcesses: one step per line of stdin.
func TestHelperDestinations(t *testing.T) {
	path := os.Getenv("REGISTRY_HELPER_FILE")
	if path == "" || os.Getenv("REGISTRY_HELPER_CHANNEL") == "" {
		t.Skip("run by TestFileStoreDestinationsAcrossProcesses")
	}
	ch := os.Getenv("REGISTRY_HELPER_CHANNEL")
	s := openPath(t, path)
	ctx := context.Background()
	var d Destination
	var line string
	for {
		if _, err := fmt.Scanln(&line); err != nil {
			return // the parent closed stdin
		}
		var err error
		switch line {
		case "add":
			d, err = s.AddDestination(ctx, ch, Destination{Kind: KindYouTube, Key: youtubeKey, Enabled: true})
		case "disable":
			_, err = s.UpdateDestination(ctx, ch, d.ID, DestinationUpdate{Enabled: ptr(false)})
		case "delete":
			err = s.DeleteDestination(ctx, ch, d.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileStoreConcurrentDestinations(t *testing.T) {
	ctx := context.Background()
	a, path := openTemp(t)
	b := openPath(t, path)
	ch, _, err := a.Create(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, MaxDestinations)
	for i := range MaxDestinations {
		s := []*FileStore{a, b}[i%2]
		wg.Go(func() {
			_, err := s.AddDestination(ctx, ch.ID, Destination{Kind: KindTwitch, Key: fmt.Sprint("live_", i), Enabled: true})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ds, err := b.Destinations(ctx, ch.ID)
	if err != nil || len(ds) != MaxDestinations {
		t.Fatalf("%d destinations after %d concurrent adds through two stores: %v", len(ds), MaxDestinations, err)
	}
	ids := map[string]bool{}
	for _, d := range ds {
		if ids[d.ID] {
			t.Fatalf("destination id %s used twice", d.ID)
		}
		ids[d.ID] = true
	}
}
