package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestStreamKeysAreUniqueAndWide(t *testing.T) {
	const n = 2000
	seen := map[string]bool{}
	for range n {
		key := newStreamKey()
		if err := checkKey(key); err != nil {
			t.Fatalf("newStreamKey gave a key checkKey refuses: %v", err)
		}
		raw, err := keyEncoding.DecodeString(strings.TrimPrefix(key, keyPrefix))
		if err != nil {
			t.Fatalf("key does not decode as base32: %v", err)
		}
		if bits := 8 * len(raw); bits < 128 {
			t.Fatalf("key carries %d random bits, want at least 128", bits)
		}
		if seen[key] {
			t.Fatalf("key issued twice after %d keys", len(seen))
		}
		seen[key] = true
	}
	// Every character of the alphabet turns up in 2000 keys of 32: a
	// generator stuck on part of it (a bad modulo, a zeroed buffer) does not.
	var all strings.Builder
	for k := range seen {
		all.WriteString(strings.TrimPrefix(k, keyPrefix))
	}
	for _, c := range keyAlphabet {
		if !strings.ContainsRune(all.String(), c) {
			t.Errorf("%q never appears in %d keys", c, n)
		}
	}
}

func TestIDsAreWellFormedAndUnique(t *testing.T) {
	pids, ids := map[string]bool{}, map[string]bool{}
	for range 2000 {
		pid, id := newPlaybackID(), newChannelID()
		if !validPlaybackID(pid) || len(pid) != 16 {
			t.Fatalf("bad playback id %q", pid)
		}
		if !validChannelID(id) || !strings.HasPrefix(id, "ch_") || len(id) != 15 {
			t.Fatalf("bad channel id %q", id)
		}
		if pids[pid] || ids[id] {
			t.Fatalf("id issued twice: %q %q", pid, id)
		}
		pids[pid], ids[id] = true, true
		// No id can pass for a key, nor a key for an id.
		if checkKey(pid) == nil || checkKey(id) == nil {
			t.Fatalf("an id passes for a stream key: %q %q", pid, id)
		}
	}
	key := newStreamKey()
	if validPlaybackID(key) || validChannelID(key) {
		t.Fatalf("a stream key passes for an id")
	}
}

// keyCases drive TestCheckKey and seed FuzzAuthenticate.
var keyCases = []struct {
	name, key string
	ok        bool
}{
	{"good", "sk_" + strings.Repeat("a", 32), true},
	{"good digits", "sk_" + strings.Repeat("27", 16), true},
	{"empty", "", false},
	{"prefix only", "sk_", false},
	{"no prefix", strings.Repeat("a", 35), false},
	{"uppercase prefix", "SK_" + strings.Repeat("a", 32), false},
	{"short", "sk_" + strings.Repeat("a", 31), false},
	{"long", "sk_" + strings.Repeat("a", 33), false},
	{"uppercase", "sk_" + strings.Repeat("A", 32), false},
	{"digit 0", "sk_" + strings.Repeat("a", 31) + "0", false},
	{"digit 1", "sk_" + strings.Repeat("a", 31) + "1", false},
	{"padding", "sk_" + strings.Repeat("a", 31) + "=", false},
	{"space", "sk_" + strings.Repeat("a", 31) + " ", false},
	{"newline", "sk_" + strings.Repeat("a", 31) + "\n", false},
	{"NUL", "sk_" + strings.Repeat("a", 31) + "\x00", false},
	{"multibyte", "sk_" + strings.Repeat("a", 30) + "é", false},
	{"playback id", "abcdefghij012345", false},
	{"channel id", "ch_abcdefghij01", false},
}

func TestCheckKey(t *testing.T) {
	for _, tc := range keyCases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKey(tc.key)
			if tc.ok && err != nil {
				t.Errorf("checkKey(%q) = %v, want nil", tc.key, err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformedKey) {
				t.Errorf("checkKey(%q) = %v, want ErrMalformedKey", tc.key, err)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	// SHA-256("sk_aaaa…") in hex, from sha256sum: the stored form must not
	// change between versions, or every key would stop working.
	const want = "95808e5d92709002f2a6f0682834d993637ad42dd2baaf8e4549c293cb8db8e0"
	if got := hashKey("sk_" + strings.Repeat("a", 32)); got != want || !validKeyHash(got) {
		t.Fatalf("hashKey = %q, want %q", got, want)
	}
}

func TestStreamKeyRedacts(t *testing.T) {
	key := StreamKey(newStreamKey())
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("publish", "key", key)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("publish", "key", key)
	formatted := fmt.Sprintf("%v %s %q %#v %+v", key, key, key, key, key) +
		fmt.Errorf("auth %v: %w", key, ErrUnknownKey).Error()
	for what, out := range map[string]string{"log": logged.String(), "fmt": formatted} {
		if strings.Contains(out, string(key)) {
			t.Errorf("%s output holds the key: %s", what, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s output does not say [redacted]: %s", what, out)
		}
	}
}

// FuzzAuthenticate checks that key parsing never panics, that Authenticate
// tells malformed keys (ErrMalformedKey) from well-formed ones no channel
// has (ErrUnknownKey), and that its errors never quote the key.
func FuzzAuthenticate(f *testing.F) {
	for _, tc := range keyCases {
		f.Add(tc.key, []byte{})
	}
	f.Add("", bytes.Repeat([]byte{0xff}, keyBytes))
	f.Add("x", []byte{1, 2, 3})
	s, err := OpenFile(f.TempDir() + "/channels.json")
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 3 {
		if _, _, err := s.Create(ctx, fmt.Sprint("channel ", i)); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, key string, raw []byte) {
		_, err := s.Authenticate(ctx, key)
		if malformed := checkKey(key) != nil; malformed != errors.Is(err, ErrMalformedKey) {
			t.Fatalf("Authenticate(%q) = %v, checkKey says malformed=%v", key, err, malformed)
		}
		if err == nil {
			t.Fatalf("Authenticate(%q) found a channel: the fuzzer guessed a 160-bit key", key)
		}
		if len(key) >= 8 && strings.Contains(err.Error(), key) {
			t.Fatalf("error quotes the key: %v", err)
		}
		// Any 20 bytes make a well-formed key, which no channel has.
		var b [keyBytes]byte
		copy(b[:], raw)
		wellFormed := keyPrefix + keyEncoding.EncodeToString(b[:])
		if _, err := s.Authenticate(ctx, wellFormed); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Authenticate(well-formed %q) = %v, want ErrUnknownKey", wellFormed, err)
		}
	})
}
