package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"log/slog"
	"strings"
)

// A stream key is keyPrefix followed by keyBytes of crypto/rand in
// lowercase base32 without padding: 160 bits, so guessing one is hopeless
// and a fast hash is enough to store it (see hashKey).
const (
	keyPrefix = "sk_"
	keyBytes  = 20
	// keyLen is the length of every well-formed stream key: 160 bits make
	// exactly 32 base32 characters, so there are no padding bits to check.
	keyLen = len(keyPrefix) + keyBytes*8/5
)

// keyAlphabet is base32 (RFC 4648) in lowercase: no 0, 1, 8 or 9, so a key
// read aloud or retyped has no O/0 or l/1 to confuse.
const keyAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var keyEncoding = base32.NewEncoding(keyAlphabet).WithPadding(base32.NoPadding)

// Playback and channel ids are drawn from idAlphabet. A playback id has no
// underscore and a channel id starts with "ch_", and both are shorter than a
// key, so no id can be mistaken for a key, nor a key for an id.
const (
	idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	// playbackIDLen gives 36^16 ≈ 2^82.7 playback ids: public, but not
	// guessable, so an unlisted channel stays unlisted.
	playbackIDLen = 16
	channelPrefix = "ch_"
	// channelRandLen gives 36^12 ≈ 2^62 channel ids; only admins see them,
	// and Create retries on the (remote) chance of a collision.
	channelRandLen = 12
	channelIDLen   = len(channelPrefix) + channelRandLen
)

// newStreamKey returns a fresh stream key. crypto/rand.Read never fails
// (since Go 1.24 it crashes the program rather than return weak bytes).
func newStreamKey() string {
	var b [keyBytes]byte
	rand.Read(b[:])
	return keyPrefix + keyEncoding.EncodeToString(b[:])
}

// checkKey returns ErrMalformedKey unless key has a stream key's prefix,
// length and alphabet. It looks nothing up and never quotes key, which may
// be a real key with a typo.
func checkKey(key string) error {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok || len(key) != keyLen || !inAlphabet(rest, keyAlphabet) {
		return ErrMalformedKey
	}
	return nil
}

// hashKey is what the registry stores instead of a key: hex(SHA-256(key)).
// A slow password hash (bcrypt, argon2) protects low-entropy secrets that
// people choose; a stream key is 160 random bits, so no dictionary exists to
// try and one SHA-256 makes the stored hash as hard to reverse as the key is
// to guess, at a cost Authenticate can pay on every publish.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// validKeyHash reports whether h looks like hashKey's output.
func validKeyHash(h string) bool {
	return len(h) == 2*sha256.Size && inAlphabet(h, "0123456789abcdef")
}

// newPlaybackID returns a fresh playback id.
func newPlaybackID() string { return randomID(playbackIDLen) }

// newChannelID returns a fresh channel id.
func newChannelID() string { return channelPrefix + randomID(channelRandLen) }

func validPlaybackID(pid string) bool {
	return len(pid) == playbackIDLen && inAlphabet(pid, idAlphabet)
}

func validChannelID(id string) bool {
	rest, ok := strings.CutPrefix(id, channelPrefix)
	return ok && len(id) == channelIDLen && inAlphabet(rest, idAlphabet)
}

// idForError is id as errors quote it: only a channel id is quoted, since
// whatever else was passed as one may be a stream key pasted in the wrong
// place, and errors reach logs and HTTP answers.
func idForError(id string) string {
	if validChannelID(id) {
		return id
	}
	return "(not a channel id)"
}

// randomID returns n characters of idAlphabet, each uniform: bytes at or
// above the largest multiple of 36 that fits in a byte are drawn again, as
// taking them modulo 36 would favour the first characters.
func randomID(n int) string {
	const limit = 256 - 256%len(idAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, idAlphabet[int(b)%len(idAlphabet)])
			}
		}
	}
	return string(out)
}

func inAlphabet(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// StreamKey is a stream key on its way somewhere it might be printed: it
// formats as "[redacted]" with %v, %s, %q and %#v, and logs as "[redacted]"
// through log/slog, so that a key put in a log attribute or an error by
// mistake does not leak. Convert it back with string(k) where the key itself
// is needed (Authenticate).
type StreamKey string

func (StreamKey) String() string               { return "[redacted]" }
func (StreamKey) GoString() string             { return `"[redacted]"` }
func (StreamKey) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (StreamKey) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
