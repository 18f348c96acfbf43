package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// openTemp opens a FileStore on a new file in a test directory and closes
// it at the end of the test.
func openTemp(t testing.TB) (*FileStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "channels.json")
	s := openPath(t, path)
	return s, path
}

func openPath(t testing.TB, path string) *FileStore {
	t.Helper()
	s, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFileStoreLifecycle(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ctx := context.Background()
	s, path := openTemp(t)

	if cs, err := s.List(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("new registry List = %v, %v; want none", cs, err)
	}
	a, keyA, err := s.Create(ctx, "Alice's show")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Alice's show" || !validChannelID(a.ID) || !validPlaybackID(a.PlaybackID) ||
		a.CreatedAt.IsZero() || !a.KeyRotatedAt.Equal(a.CreatedAt) {
		t.Fatalf("Create returned %+v", a)
	}
	if err := checkKey(keyA); err != nil {
		t.Fatalf("Create returned a malformed key: %v", err)
	}
	b, keyB, err := s.Create(ctx, "Bob 🎸")
	if err != nil {
		t.Fatal(err)
	}

	if got, err := s.Authenticate(ctx, keyA); err != nil || got != a {
		t.Errorf("Authenticate(A's key) = %+v, %v; want %+v", got, err, a)
	}
	if got, err := s.Get(ctx, b.ID); err != nil || got != b {
		t.Errorf("Get(B) = %+v, %v", got, err)
	}
	if got, err := s.ByPlaybackID(ctx, b.PlaybackID); err != nil || got != b {
		t.Errorf("ByPlaybackID(B) = %+v, %v", got, err)
	}
	if cs, err := s.List(ctx); err != nil || len(cs) != 2 || cs[0] != a || cs[1] != b {
		t.Errorf("List = %+v, %v; want A then B", cs, err)
	}

	// Rotate: the old key stops working, the new one works, the rest stays.
	a2, keyA2, err := s.Rotate(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if keyA2 == keyA || a2.ID != a.ID || a2.PlaybackID != a.PlaybackID || !a2.KeyRotatedAt.After(a.KeyRotatedAt) {
		t.Errorf("Rotate returned %+v (same key: %v)", a2, keyA2 == keyA)
	}
	if _, err := s.Authenticate(ctx, keyA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old key after Rotate: %v, want ErrUnknownKey", err)
	}
	if got, err := s.Authenticate(ctx, keyA2); err != nil || got.ID != a.ID {
		t.Errorf("new key after Rotate: %+v, %v", got, err)
	}

	// Revoke: the channel and its key are gone.
	if err := s.Revoke(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, keyB); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("key of a revoked channel: %v, want ErrUnknownKey", err)
	}
	for name, err := range map[string]error{
		"Get":          second(s.Get(ctx, b.ID)),
		"ByPlaybackID": second(s.ByPlaybackID(ctx, b.PlaybackID)),
		"Revoke":       s.Revoke(ctx, b.ID),
		"Rotate":       third(s.Rotate(ctx, b.ID)),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a revoked channel: %v, want ErrNotFound", name, err)
		}
	}

	// Everything survives reopening.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx); err == nil {
		t.Errorf("List after Close succeeded")
	}
	s2 := openPath(t, path)
	if cs, err := s2.List(ctx); err != nil || len(cs) != 1 || !sameChannel(cs[0], a2) {
		t.Fatalf("after reopening, List = %+v, %v; want [%+v]", cs, err, a2)
	}
	if got, err := s2.Authenticate(ctx, keyA2); err != nil || got.ID != a.ID {
		t.Errorf("after reopening, Authenticate = %+v, %v", got, err)
	}
	if _, err := s2.Authenticate(ctx, keyA); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("after reopening, the rotated-away key: %v", err)
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// sameChannel compares channels read back from JSON, whose times lose their
// monotonic clock reading.
func sameChannel(a, b Channel) bool {
	return a.ID == b.ID && a.Name == b.Name && a.PlaybackID == b.PlaybackID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.KeyRotatedAt.Equal(b.KeyRotatedAt) && a.Settings.equal(b.Settings)
}

func TestFileStoreAuthenticateErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, _, err := s.Create(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range keyCases {
		_, err := s.Authenticate(ctx, tc.key)
		want := ErrMalformedKey
		if tc.ok {
			want = ErrUnknownKey
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: Authenticate(%q) = %v, want %v", tc.name, tc.key, err, want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Authenticate(cancelled, newStreamKey()); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with a cancelled context: %v", err)
	}
}

func TestFileStoreNames(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for _, name := range []string{"a", strings.Repeat("é", MaxNameLen), "Live from the Moon — 2026 🚀"} {
		if c, _, err := s.Create(ctx, name); err != nil || c.Name != name {
			t.Errorf("Create(%q) = %q, %v", name, c.Name, err)
		}
	}
	for _, name := range []string{"", strings.Repeat("a", MaxNameLen+1), "two\nlines", "tab\there",
		"esc\x1b[2J", "nul\x00", "c1\u0085", "bad utf8 \xff"} {
		if _, _, err := s.Create(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if cs, _ := s.List(ctx); len(cs) != 3 {
		t.Errorf("after refused names, %d channels, want 3", len(cs))
	}
}

func TestFileStoreFileHoldsNoKey(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	_, key1, err := s.Create(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	c, key2, err := s.Create(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	_, key3, err := s.Rotate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{key1, key2, key3} {
		rest := strings.TrimPrefix(key, keyPrefix)
		if strings.Contains(string(data), rest) {
			t.Errorf("the registry file holds a stream key:\n%s", data)
		}
	}
	for _, key := range []string{key1, key3} {
		if !strings.Contains(string(data), `"key_sha256": "`+hashKey(key)+`"`) {
			t.Errorf("the registry file lacks the hash of a current key:\n%s", data)
		}
	}
	if strings.Contains(string(data), hashKey(key2)) {
		t.Errorf("the registry file still holds the hash of a rotated-away key")
	}

	for p, want := range map[string]os.FileMode{path: 0o600, path + ".lock": 0o600, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), got, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != "channels.json" && e.Name() != "channels.json.lock" {
			t.Errorf("left behind in the data dir: %s", e.Name())
		}
	}
}

func TestFileStoreCorruptFile(t *testing.T) {
	ctx := context.Background()
	for name, content := range map[string]string{
		"empty":         "",
		"not json":      "channels: yes\n",
		"truncated":     `{"version": 1, "channels": [`,
		"wrong version": `{"version": 2, "channels": []}`,
		"unknown field": `{"version": 1, "channels": [], "relays": []}`,
		"bad hash":      `{"version": 1, "channels": [{"channel_id": "ch_aaaaaaaaaaaa", "name": "x", "playback_id": "aaaaaaaaaaaaaaaa", "created_at": "2026-01-01T00:00:00Z", "key_rotated_at": "2026-01-01T00:00:00Z", "key_sha256": "zz"}]}`,
		"trailing data": `{"version": 1, "channels": []} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "channels.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenFile(path)
			if err == nil {
				s.Close()
				t.Fatalf("OpenFile of a corrupt file succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			if data, _ := os.ReadFile(path); string(data) != content {
				t.Errorf("OpenFile changed the corrupt file")
			}
		})
	}

	// A file corrupted while open: reads and mutations fail, naming it,
	// rather than carry on with what was loaded before.
	s, path := openTemp(t)
	_, key, err := s.Create(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Authenticate on a corrupted file: %v", err)
	}
	if _, _, err := s.Create(ctx, "y"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Create on a corrupted file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "{" {
		t.Errorf("Create overwrote a corrupt file: %q", data)
	}
}

func TestFileStoreSharedFile(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ctx := context.Background()
	a, path := openTemp(t)
	b := openPath(t, path)
	b.poll = 10 * time.Millisecond // see the other store's changes quickly

	c, key, err := a.Create(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Authenticate(ctx, key); err != nil || got.ID != c.ID {
		t.Fatalf("the second store does not see the first's channel: %+v, %v", got, err)
	}
	var mu sync.Mutex
	var heardA []Change
	cancelA := a.Subscribe(func(c Change) { mu.Lock(); heardA = append(heardA, c); mu.Unlock() })
	defer cancelA()
	heardB := make(chan Change, 10)
	cancelB := b.Subscribe(func(c Change) { heardB <- c })
	defer cancelB()

	// A rotation through a is heard by a's subscribers before Rotate
	// returns, and by b's from its poll, with nobody calling b.
	_, key2, err := a.Rotate(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(heardA) != 1 || heardA[0] != (Change{c.ID, KeyChanged}) {
		t.Errorf("a's subscriber heard %v after Rotate, want [%s key changed]", heardA, c.ID)
	}
	mu.Unlock()
	select {
	case got := <-heardB:
		if got != (Change{c.ID, KeyChanged}) {
			t.Errorf("b's subscriber heard %v, want %s key changed", got, c.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's subscriber did not hear of a's rotation")
	}
	if _, err := b.Authenticate(ctx, key); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("b accepts the rotated-away key: %v", err)
	}
	if _, err := b.Authenticate(ctx, key2); err != nil {
		t.Errorf("b refuses the new key: %v", err)
	}

	// A revocation through b reaches a's subscribers when a next reads.
	other, _, err := b.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Revoke(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got := <-heardB; got != (Change{c.ID, ChannelRevoked}) {
		t.Errorf("b's subscriber heard %v on its own Revoke, want %s revoked", got, c.ID)
	}
	cs, err := a.List(ctx)
	if err != nil || len(cs) != 1 || cs[0].ID != other.ID {
		t.Errorf("a lists %+v, %v; want only the channel b made", cs, err)
	}
	mu.Lock()
	if len(heardA) != 2 || heardA[1] != (Change{c.ID, ChannelRevoked}) {
		t.Errorf("a's subscriber heard %v, want the revocation of %s too", heardA, c.ID)
	}
	mu.Unlock()

	// Cancelled subscribers hear nothing more; creating a channel is not a
	// change anyone is told of.
	cancelB()
	if _, _, err := a.Rotate(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.List(ctx); err != nil { // b notices the rotation now
		t.Fatal(err)
	}
	select {
	case got := <-heardB:
		t.Errorf("a cancelled subscriber heard %v", got)
	default:
	}
	a.Close()
	b.Close() // stops b's poll goroutine, which CheckGoroutines checks
}

func TestFileStoreConcurrentCreates(t *testing.T) {
	a, path := openTemp(t)
	b := openPath(t, path)
	checkConcurrentCreates(t, a, b, 10)
}

// checkConcurrentCreates creates channels from 4 goroutines through each
// of two stores over the same data at once: none may be lost, no id or
// playback id used twice, and every key issued must work through b.
func checkConcurrentCreates(t *testing.T, a, b Store, perStore int) {
	t.Helper()
	ctx := context.Background()
	const goroutines = 4
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore*goroutines)
	keys := make(chan string, 2*perStore*goroutines)
	for _, s := range []Store{a, b} {
		for g := range goroutines {
			wg.Go(func() {
				for i := range perStore {
					_, key, err := s.Create(ctx, fmt.Sprintf("g%d-%d", g, i))
					errs <- err
					keys <- key
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	close(keys)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cs, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * perStore * goroutines; len(cs) != want {
		t.Fatalf("%d channels after %d concurrent creates through two stores: a write was lost", len(cs), want)
	}
	ids, pids := map[string]bool{}, map[string]bool{}
	for _, c := range cs {
		if ids[c.ID] || pids[c.PlaybackID] {
			t.Fatalf("id used twice: %+v", c)
		}
		ids[c.ID], pids[c.PlaybackID] = true, true
		if got, err := b.ByPlaybackID(ctx, c.PlaybackID); err != nil || got.ID != c.ID {
			t.Errorf("ByPlaybackID(%s) = %+v, %v; want %s", c.PlaybackID, got, err, c.ID)
		}
	}
	for key := range keys {
		if _, err := b.Authenticate(ctx, key); err != nil {
			t.Errorf("a key issued concurrently does not work: %v", err)
		}
	}
}

// TestFileStoreAcrossProcesses has a child process (this test binary,
// running TestHelperCreateChannels) create channels in the file while this
// process does too: the flock must keep every write.
func TestFileStoreAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	const n = 15
	var mu sync.Mutex
	var heard []Change
	defer s.Subscribe(func(c Change) { mu.Lock(); heard = append(heard, c); mu.Unlock() })()
	victim, _, err := s.Create(ctx, "to be revoked by the child")
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCreateChannels$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REGISTRY_HELPER_FILE="+path, "REGISTRY_HELPER_N="+strconv.Itoa(n),
		"REGISTRY_HELPER_REVOKE="+victim.ID)
	out := make(chan error, 1)
	go func() {
		b, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, b)
		}
		out <- err
	}()
	// Create channels until the child is done, so that the two processes'
	// writes interleave however long the child takes to start.
	created := 0
	for running := true; running; {
		select {
		case err := <-out:
			if err != nil {
				t.Fatalf("child process: %v", err)
			}
			running = false
		default:
			if _, _, err := s.Create(ctx, fmt.Sprint("parent ", created)); err != nil {
				t.Fatal(err)
			}
			created++
		}
	}
	cs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d channels created here while the child created %d", created, n)
	if len(cs) != created+n {
		t.Errorf("%d channels after %d creates here, %d in the child and one revoke: a write was lost", len(cs), created, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || heard[0] != (Change{victim.ID, ChannelRevoked}) {
		t.Errorf("subscriber heard %v, want only the child's revocation of %s", heard, victim.ID)
	}
}

// TestHelperCreateChannels is the child of TestFileStoreAcrossProcesses.
func TestHelperCreateChannels(t *testing.T) {
	path := os.Getenv("REGISTRY_HELPER_FILE")
	if path == "" {
		t.Skip("run by TestFileStoreAcrossProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("REGISTRY_HELPER_N"))
	s := openPath(t, path)
	ctx := context.Background()
	if err := s.Revoke(ctx, os.Getenv("REGISTRY_HELPER_REVOKE")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, _, err := s.Create(ctx, fmt.Sprint("child ", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileStoreCreatesDataDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "channels.json")
	s := openPath(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("OpenFile did not write the file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.Create(context.Background(), "late"); err == nil {
		t.Errorf("Create after Close succeeded")
	}
}
