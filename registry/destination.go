package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Destination is a relay target stored with a channel: a platform with a
// stream key of that platform (Twitch, YouTube, Facebook), or any RTMP(S)
// server by its full URL. Key and a custom URL are secrets (whoever has them
// can stream to that account): they leave the registry in full only through
// the Store's Destinations, for the server's relays; everything shown to
// people goes through Redacted.
type Destination struct {
	// ID is "ds_" and 8 of [a-z0-9], unique in the registry.
	ID string `json:"id"`
	// Kind is KindTwitch, KindYouTube, KindFacebook or KindCustom.
	Kind string `json:"kind"`
	// Key is the platform's stream key, for the named kinds. It may carry
	// a query for the platform ("KEY?s_bl=…", as Facebook hands out).
	Key string `json:"key,omitempty"`
	// URL is, for KindCustom, the full rtmp:// or rtmps:// URL,
	// rtmp[s]://HOST[:PORT]/APP/STREAM_KEY[?QUERY]. For the named kinds it
	// is optional: a base URL, rtmp[s]://HOST[:PORT]/APP, replacing the
	// server's default for this destination (another ingest region, say);
	// the key is appended as "/KEY".
	URL     string `json:"url,omitempty"`
	Enabled bool   `json:"enabled"`
	// CreatedAt is when the destination was added.
	CreatedAt time.Time `json:"created_at"`
}

// The kinds of Destination.
const (
	KindTwitch   = "twitch"
	KindYouTube  = "youtube"
	KindFacebook = "facebook"
	KindCustom   = "custom"
)

// MaxDestinations is the most destinations a channel may have: each live
// one is an outgoing stream of the server's bandwidth, and a few are all
// anyone relays to.
const MaxDestinations = 16

// Limits on a destination's secrets: real platform keys are under 100
// bytes and ingest URLs under 200; these only keep a stored destination
// from being a document.
const (
	maxDestinationKey = 512
	maxDestinationURL = 2048
)

var (
	// ErrInvalidDestination is wrapped by the errors of a destination
	// that cannot be stored: unknown kind, missing or malformed key or
	// URL, or one destination too many. Their text never holds the key
	// nor any part of the URL.
	ErrInvalidDestination = errors.New("invalid destination")
	// ErrNoDestination is returned for a destination id that the channel
	// does not have.
	ErrNoDestination = errors.New("no such destination")
)

// DestinationUpdate is a change to a stored destination: each field that
// is not nil replaces the destination's. An empty URL removes a named
// kind's base URL. The result is validated as a new destination is.
type DestinationUpdate struct {
	Enabled *bool   `json:"enabled,omitempty"`
	Key     *string `json:"key,omitempty"`
	URL     *string `json:"url,omitempty"`
}

func (u DestinationUpdate) apply(d *Destination) {
	if u.Enabled != nil {
		d.Enabled = *u.Enabled
	}
	if u.Key != nil {
		d.Key = *u.Key
	}
	if u.URL != nil {
		d.URL = *u.URL
	}
}

// Validate returns an error wrapping ErrInvalidDestination unless d's kind,
// key and URL make a destination (see Destination); it ignores ID and
// CreatedAt, which the Store assigns.
//
// Keys and URLs must be printable ASCII: platform keys and RTMP URLs are,
// and a key pasted from a web page with a no-break or zero-width space in
// it would otherwise be stored and fail only when relayed. An international
// host name goes in its xn-- form.
func (d Destination) Validate() error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidDestination, err)
	}
	return nil
}

func (d Destination) validate() error {
	switch d.Kind {
	case KindCustom:
		if d.Key != "" {
			return errors.New("custom: takes no key; the stream key goes in the URL")
		}
		if d.URL == "" {
			return errors.New("custom: url required, rtmp[s]://HOST[:PORT]/APP/STREAM_KEY")
		}
		return checkRTMPURL(d.URL, false)
	case KindTwitch, KindYouTube, KindFacebook:
		if err := checkDestinationKey(d.Key); err != nil {
			return fmt.Errorf("%s: %w", d.Kind, err)
		}
		if d.URL == "" {
			return nil
		}
		if err := checkRTMPURL(d.URL, true); err != nil {
			return fmt.Errorf("%s: %w", d.Kind, err)
		}
		// A full URL pasted as the base would be shown in full, key and
		// all, as a base URL is.
		name, _, _ := strings.Cut(d.Key, "?")
		if u, _ := url.Parse(d.URL); slices.Contains(strings.Split(u.EscapedPath(), "/"), name) {
			return fmt.Errorf("%s: url: holds the key; give the base URL only", d.Kind)
		}
		return nil
	}
	// Not quoted: whatever was sent as the kind may be a key in the
	// wrong field.
	return fmt.Errorf("kind: want %q, %q, %q or %q", KindTwitch, KindYouTube, KindFacebook, KindCustom)
}

// checkDestinationKey checks a named kind's key. Its errors never quote it.
func checkDestinationKey(key string) error {
	switch {
	case key == "":
		return errors.New("key required")
	case len(key) > maxDestinationKey:
		return fmt.Errorf("key: longer than %d bytes", maxDestinationKey)
	case !printableASCII(key):
		return errors.New("key: holds a space, a control character or a character outside printable ASCII")
	case strings.ContainsAny(key, "/#"):
		// '/' would split the key into RTMP app and stream name, and '#'
		// would end the URL.
		return errors.New("key: holds '/' or '#'")
	case strings.HasPrefix(key, "?"):
		return errors.New("key: empty before its query ('?')")
	}
	return nil
}

// checkRTMPURL checks a custom destination's URL, or with base a named
// kind's base URL (an application but no stream name, and no query). Its
// errors name no part of raw: a URL's path holds the key, and a key pasted
// into the URL field would be all of it.
func checkRTMPURL(raw string, base bool) error {
	if len(raw) > maxDestinationURL {
		return fmt.Errorf("url: longer than %d bytes", maxDestinationURL)
	}
	if !printableASCII(raw) {
		return errors.New("url: holds a space, a control character or a character outside printable ASCII")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("url: not a URL") // url.Parse's error quotes raw
	}
	switch {
	case u.Scheme != "rtmp" && u.Scheme != "rtmps": // Parse lowercases it
		return errors.New("url: scheme must be rtmp or rtmps")
	case u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme):], "://"):
		return errors.New("url: want rtmp[s]://HOST")
	case u.User != nil:
		return errors.New("url: must not hold user info (USER:PASSWORD@)")
	case u.Hostname() == "":
		return errors.New("url: host required")
	case strings.Contains(raw, "#"):
		return errors.New("url: must not hold a fragment ('#')")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("url: port must be 1 to 65535")
		}
	}
	path := u.EscapedPath()
	elems := strings.Split(strings.TrimPrefix(path, "/"), "/")
	emptyElem := path == "" || path == "/" || strings.Contains(path, "//") || strings.HasSuffix(path, "/")
	if base {
		if emptyElem || u.RawQuery != "" || u.ForceQuery {
			return errors.New("url: a base URL is rtmp[s]://HOST[:PORT]/APP, without stream key or query")
		}
		return nil
	}
	if emptyElem || len(elems) < 2 {
		return errors.New("url: path must be /APP/STREAM_KEY, an application and a stream name")
	}
	return nil
}

// printableASCII reports whether s is all of '!' to '~'.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Redacted returns a copy of d fit to show: Key becomes "…" and the last 4
// characters of the key without its query (only "…" for a key shorter than
// 12 characters, whose last 4 would be too much of it), and a custom URL's
// stream name and query become the same, as in rtmp://host/app/…abcd. A
// named kind's base URL holds no secret and is kept.
//
// Redacted of a redacted destination returns it unchanged, so what a
// Client returns can go through it again.
func (d Destination) Redacted() Destination {
	if d.Key != "" {
		name, _, _ := strings.Cut(d.Key, "?")
		d.Key = redactTail(name)
	}
	switch d.Kind {
	case KindTwitch, KindYouTube, KindFacebook:
	default:
		d.URL = redactURL(d.URL)
	}
	return d
}

// String, GoString and LogValue show d Redacted, so that a destination
// put in a log attribute, an error or a test failure by mistake shows no
// secret. Use the fields where the key itself is needed.
func (d Destination) String() string   { return fmt.Sprintf("%+v", plainDestination(d.Redacted())) }
func (d Destination) GoString() string { return fmt.Sprintf("%#v", plainDestination(d.Redacted())) }
func (d Destination) LogValue() slog.Value {
	r := d.Redacted()
	return slog.GroupValue(slog.String("id", r.ID), slog.String("kind", r.Kind), slog.String("key", r.Key),
		slog.String("url", r.URL), slog.Bool("enabled", r.Enabled))
}

// plainDestination is a Destination without its methods, for fmt.
type plainDestination Destination

// redactedMark starts every redacted secret. No valid key or URL holds it
// (they are ASCII), so a value starting with it was redacted already.
const redactedMark = "…"

// redactTail is s as Redacted shows it.
func redactTail(s string) string {
	if strings.HasPrefix(s, redactedMark) {
		return s
	}
	r := []rune(s)
	if len(r) < 12 {
		return redactedMark
	}
	return redactedMark + string(r[len(r)-4:])
}

// redactURL is a custom destination's URL as Redacted shows it:
// scheme://host[:port]/app/ and the redacted stream name. It works on the
// text, whatever it holds: user info is dropped, and a URL with no "://"
// is all secret.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redactedMark
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	out := scheme + "://" + host
	if path == "" {
		return out
	}
	i := strings.LastIndexByte(path, '/')
	return out + "/" + path[:i+1] + redactTail(path[i+1:])
}

// Destination ids are destinationPrefix and destinationRandLen of
// idAlphabet: 36^8 ≈ 2^41, drawn again on a collision.
const (
	destinationPrefix   = "ds_"
	destinationRandLen  = 8
	destinationIDLength = len(destinationPrefix) + destinationRandLen
)

func newDestinationID() string { return destinationPrefix + randomID(destinationRandLen) }

func validDestinationID(id string) bool {
	rest, ok := strings.CutPrefix(id, destinationPrefix)
	return ok && len(id) == destinationIDLength && inAlphabet(rest, idAlphabet)
}

// destIDForError is a destination id as errors quote it; see idForError.
func destIDForError(id string) string {
	if validDestinationID(id) {
		return id
	}
	return "(not a destination id)"
}
