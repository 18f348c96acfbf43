package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// maxKeyLen bounds a stream key before it is looked up: registry keys are
// far shorter, and a lookup must not be handed megabytes.
const maxKeyLen = 256

// streamKey is a stream key as a publisher sent it. It formats, and logs,
// as [redacted]: only reveal gives the key, to Authenticate.
type streamKey string

const redacted = "[redacted]"

func (streamKey) String() string       { return redacted }
func (streamKey) GoString() string     { return redacted }
func (streamKey) LogValue() slog.Value { return slog.StringValue(redacted) }

func (k streamKey) reveal() string { return string(k) }

// hash is a short SHA-256 prefix of the key, to correlate the log lines of
// one key before its channel is known: 32 bits say nothing useful about a
// registry key.
func (k streamKey) hash() string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:4])
}

// wellFormed reports whether k can be a stream key at all, so that empty,
// huge or binary names are refused without a lookup.
func (k streamKey) wellFormed() bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	return strings.IndexFunc(string(k), func(r rune) bool {
		return r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' || r == '/'
	}) < 0
}

// splitPublishingName splits "KEY?twitch=…" into the key and the raw query.
func splitPublishingName(name string) (streamKey, string) {
	key, query, _ := strings.Cut(name, "?")
	return streamKey(key), query
}

// secrets is the set of strings a connection's logs and status messages
// must not contain: the publishing names it sent (the key and the query,
// whose values are other platforms' keys), longest first so that a key
// inside a whole name does not leave the rest of the name behind.
type secrets []string

// add records a publishing name, its key and its query's values.
func (s *secrets) add(name string) {
	key, query := splitPublishingName(name)
	vals := []string{name, string(key)}
	for _, kv := range strings.Split(query, "&") {
		_, v, _ := strings.Cut(kv, "=")
		vals = append(vals, v)
		if u, err := url.QueryUnescape(v); err == nil {
			vals = append(vals, u)
		}
	}
	for _, v := range vals {
		if len(v) >= 4 && !slices.Contains(*s, v) { // shorter would redact ordinary words
			*s = append(*s, v)
		}
	}
	slices.SortStableFunc(*s, func(a, b string) int { return len(b) - len(a) })
}

// redact replaces every secret in text.
func (s secrets) redact(text string) string {
	for _, v := range s {
		text = strings.ReplaceAll(text, v, redacted)
	}
	return text
}
