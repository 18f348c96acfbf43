package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Realistic secrets: each long enough to be told apart from any text an
// error has, so that finding one in an error or answer means a leak.
const (
	twitchKey   = "live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123"
	youtubeKey  = "abcd-efgh-ijkl-mnop-qrs7"
	facebookKey = "FB-1234567890123456-0-AbCdEfGhIjKlMnOp"
	fbQuery     = "s_bl=1&s_psm=1&s_sw=0&s_vt=api-s&a=AbyZ9876xyzQ"
	customName  = "custom-secret-stream-name-0042"
	customURL   = "rtmps://ingest.example.com:4443/live/app/" + customName + "?token=tok-secret-999"
)

// destinationCases drive TestDestinationValidate and seed
// FuzzDestinationValidate: want is "" for a valid destination, else what
// the error must say.
var destinationCases = []struct {
	name string
	d    Destination
	want string
}{
	{"twitch", Destination{Kind: KindTwitch, Key: twitchKey}, ""},
	{"youtube with a base URL", Destination{Kind: KindYouTube, Key: youtubeKey, URL: "rtmp://b.rtmp.youtube.com/live2"}, ""},
	{"facebook with a query", Destination{Kind: KindFacebook, Key: facebookKey + "?" + fbQuery}, ""},
	{"facebook rtmps base with port", Destination{Kind: KindFacebook, Key: facebookKey, URL: "rtmps://live-api-s.facebook.com:443/rtmp"}, ""},
	{"short key", Destination{Kind: KindTwitch, Key: "k"}, ""},
	{"longest key", Destination{Kind: KindTwitch, Key: strings.Repeat("k", maxDestinationKey)}, ""},
	{"custom", Destination{Kind: KindCustom, URL: customURL}, ""},
	{"custom rtmp", Destination{Kind: KindCustom, URL: "rtmp://127.0.0.1/live/" + customName}, ""},
	{"custom IPv6", Destination{Kind: KindCustom, URL: "RTMP://[::1]:1935/app/" + customName}, ""},
	{"custom deep app", Destination{Kind: KindCustom, URL: "rtmp://h/a/b/c/" + customName}, ""},
	{"custom longest URL", Destination{Kind: KindCustom, URL: "rtmp://h/app/" + strings.Repeat("n", maxDestinationURL-len("rtmp://h/app/"))}, ""},

	{"no kind", Destination{Key: twitchKey}, "kind: want"},
	{"unknown kind", Destination{Kind: "periscope", Key: twitchKey}, "kind: want"},
	{"kind in capitals", Destination{Kind: "Twitch", Key: twitchKey}, "kind: want"},
	{"key in the kind", Destination{Kind: twitchKey}, "kind: want"},
	{"no key", Destination{Kind: KindTwitch}, "twitch: key required"},
	{"key too long", Destination{Kind: KindYouTube, Key: strings.Repeat("k", maxDestinationKey+1)}, "longer than 512"},
	{"space in key", Destination{Kind: KindTwitch, Key: "live_123 456789"}, "holds a space"},
	{"newline in key", Destination{Kind: KindTwitch, Key: twitchKey + "\n"}, "holds a space"},
	{"NUL in key", Destination{Kind: KindTwitch, Key: twitchKey + "\x00"}, "control character"},
	{"no-break space in key", Destination{Kind: KindTwitch, Key: "live_123\u00a0456789"}, "outside printable ASCII"},
	{"zero-width space in key", Destination{Kind: KindTwitch, Key: "live_123\u200b456789"}, "outside printable ASCII"},
	{"invalid UTF-8 in key", Destination{Kind: KindTwitch, Key: "live_123\xff456789"}, "outside printable ASCII"},
	{"slash in key", Destination{Kind: KindFacebook, Key: "app/" + facebookKey}, "'/'"},
	{"hash in key", Destination{Kind: KindFacebook, Key: facebookKey + "#x"}, "'#'"},
	{"only a query", Destination{Kind: KindFacebook, Key: "?" + fbQuery}, "empty before its query"},
	{"base URL with the key", Destination{Kind: KindYouTube, Key: youtubeKey, URL: "rtmp://a.rtmp.youtube.com/live2/" + youtubeKey}, "holds the key"},
	{"base URL with a query", Destination{Kind: KindYouTube, Key: youtubeKey, URL: "rtmp://a.rtmp.youtube.com/live2?x=" + customName}, "base URL"},
	{"base URL without app", Destination{Kind: KindTwitch, Key: twitchKey, URL: "rtmp://live.twitch.tv"}, "base URL"},
	{"base URL with http", Destination{Kind: KindTwitch, Key: twitchKey, URL: "https://live.twitch.tv/app"}, "scheme"},
	{"custom with a key", Destination{Kind: KindCustom, Key: twitchKey, URL: customURL}, "takes no key"},
	{"custom without URL", Destination{Kind: KindCustom}, "url required"},
	{"custom http", Destination{Kind: KindCustom, URL: "http://example.com/live/" + customName}, "scheme must be rtmp or rtmps"},
	{"custom key as URL", Destination{Kind: KindCustom, URL: twitchKey}, "scheme"},
	{"custom key with a colon as URL", Destination{Kind: KindCustom, URL: "live-123456:" + customName}, "scheme"},
	{"custom not a URL", Destination{Kind: KindCustom, URL: "live_123456:" + customName}, "not a URL"},
	{"custom opaque", Destination{Kind: KindCustom, URL: "rtmp:" + customName}, "rtmp[s]://HOST"},
	{"custom no host", Destination{Kind: KindCustom, URL: "rtmp:///live/" + customName}, "host required"},
	{"custom user info", Destination{Kind: KindCustom, URL: "rtmp://user:" + customName + "@h/live/x"}, "user info"},
	{"custom fragment", Destination{Kind: KindCustom, URL: "rtmp://h/live/x#" + customName}, "fragment"},
	{"custom port 0", Destination{Kind: KindCustom, URL: "rtmp://h:0/live/" + customName}, "port"},
	{"custom port too big", Destination{Kind: KindCustom, URL: "rtmp://h:65536/live/" + customName}, "port"},
	{"custom no stream name", Destination{Kind: KindCustom, URL: "rtmp://h/" + customName}, "/APP/STREAM_KEY"},
	{"custom trailing slash", Destination{Kind: KindCustom, URL: "rtmp://h/live/" + customName + "/"}, "/APP/STREAM_KEY"},
	{"custom empty app", Destination{Kind: KindCustom, URL: "rtmp://h//" + customName}, "/APP/STREAM_KEY"},
	{"custom no path", Destination{Kind: KindCustom, URL: "rtmp://h?" + customName}, "/APP/STREAM_KEY"},
	{"custom space", Destination{Kind: KindCustom, URL: "rtmp://h/live/" + customName + " x"}, "holds a space"},
	{"custom not ASCII", Destination{Kind: KindCustom, URL: "rtmp://h/live/" + customName + "é"}, "outside printable ASCII"},
	{"custom bad escape", Destination{Kind: KindCustom, URL: "rtmp://h/live/" + customName + "%zz"}, "not a URL"},
	{"custom URL too long", Destination{Kind: KindCustom, URL: "rtmp://h/app/" + strings.Repeat("n", maxDestinationURL)}, "longer than 2048"},
}

func TestDestinationValidate(t *testing.T) {
	for _, tc := range destinationCases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDestination) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalidDestination about %q", err, tc.want)
			}
			for _, secret := range []string{twitchKey, youtubeKey, facebookKey, fbQuery, customName, "tok-secret-999"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			}
		})
	}
}

func TestDestinationRedacted(t *testing.T) {
	created := Destination{ID: "ds_abcd1234", Enabled: true}
	for _, tc := range []struct {
		d        Destination
		key, url string
	}{
		{Destination{Kind: KindTwitch, Key: twitchKey}, "…0123", ""},
		{Destination{Kind: KindFacebook, Key: facebookKey + "?" + fbQuery}, "…MnOp", ""},
		{Destination{Kind: KindYouTube, Key: "abcdefghijkl"}, "…ijkl", ""}, // 12: the shortest that shows its end
		{Destination{Kind: KindYouTube, Key: "abcdefghijk"}, "…", ""},
		{Destination{Kind: KindYouTube, Key: "k"}, "…", ""},
		{Destination{Kind: KindYouTube, Key: "short?" + fbQuery}, "…", ""},
		// A base URL has no secret and stays.
		{Destination{Kind: KindYouTube, Key: youtubeKey, URL: "rtmp://b.rtmp.youtube.com/live2"}, "…qrs7", "rtmp://b.rtmp.youtube.com/live2"},
		{Destination{Kind: KindCustom, URL: customURL}, "", "rtmps://ingest.example.com:4443/live/app/…0042"},
		{Destination{Kind: KindCustom, URL: "rtmp://h/live/short?" + fbQuery}, "", "rtmp://h/live/…"},
		{Destination{Kind: KindCustom, URL: "rtmp://h/" + customName}, "", "rtmp://h/…0042"},
		// Not valid, and still nothing secret shows: user info, a key
		// in the kind's place, a URL that is not one.
		{Destination{Kind: KindCustom, URL: "rtmp://user:pass@h/live/" + customName}, "", "rtmp://h/live/…0042"},
		{Destination{Kind: "", Key: twitchKey, URL: "rtmp://h/live/" + customName}, "…0123", "rtmp://h/live/…0042"},
		{Destination{Kind: KindCustom, URL: customName}, "", "…"},
		{Destination{Kind: KindCustom, URL: "rtmp://h"}, "", "rtmp://h"},
	} {
		d := tc.d
		d.ID, d.Enabled = created.ID, created.Enabled
		r := d.Redacted()
		if r.Key != tc.key || r.URL != tc.url || r.ID != d.ID || r.Kind != d.Kind || r.Enabled != d.Enabled {
			t.Errorf("Redacted(%s) = key %q url %q (%+v); want key %q url %q", d.Kind, r.Key, r.URL, r, tc.key, tc.url)
		}
		if again := r.Redacted(); again != r {
			t.Errorf("Redacted is not idempotent: %+v, then %+v", r, again)
		}
		if d.Key != tc.d.Key || d.URL != tc.d.URL {
			t.Errorf("Redacted changed its receiver")
		}
	}
}

// FuzzDestinationValidate checks that Validate never panics nor quotes a
// secret, that what it accepts survives JSON (what the file and the admin
// API do to it), and that Redacted of it hides the key and stream name.
func FuzzDestinationValidate(f *testing.F) {
	for _, tc := range destinationCases {
		f.Add(tc.d.Kind, tc.d.Key, tc.d.URL)
	}
	f.Fuzz(func(t *testing.T, kind, key, rawURL string) {
		d := Destination{Kind: kind, Key: key, URL: rawURL}
		err := d.Validate()
		streamName := rawURL[strings.LastIndexByte(rawURL, '/')+1:]
		if err != nil {
			if !errors.Is(err, ErrInvalidDestination) {
				t.Fatalf("Validate = %v, not ErrInvalidDestination", err)
			}
			// Error texts have no run of 6 non-space characters with a
			// digit: a secret with one is in an error only if quoted.
			for _, secret := range []string{key, kind, streamName} {
				if len(secret) >= 6 && strings.ContainsAny(secret, "0123456789") && strings.Contains(err.Error(), secret) {
					t.Fatalf("Validate's error %q quotes %q", err, secret)
				}
			}
			return
		}
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Destination
		if err := json.Unmarshal(data, &back); err != nil || back != d {
			t.Fatalf("a valid destination does not survive JSON: %+v → %s → %+v, %v", d, data, back, err)
		}
		r := d.Redacted()
		keyName, _, _ := strings.Cut(key, "?")
		if key != "" && (strings.Contains(r.Key, keyName) || strings.Contains(r.Key, "?")) {
			t.Fatalf("Redacted key %q shows the key %q", r.Key, key)
		}
		if kind == KindCustom {
			shown := r.URL[strings.LastIndexByte(r.URL, '/')+1:]
			name, _, _ := strings.Cut(streamName, "?")
			if !strings.HasPrefix(shown, "…") || strings.Contains(shown, name) || strings.Contains(r.URL, "?") {
				t.Fatalf("Redacted URL %q shows the stream name of %q", r.URL, rawURL)
			}
		}
		if again := r.Redacted(); again != r {
			t.Fatalf("Redacted is not idempotent: %+v, then %+v", r, again)
		}
	})
}

func TestDestinationFormatsRedacted(t *testing.T) {
	tw := Destination{ID: "ds_abcd1234", Kind: KindTwitch, Key: twitchKey, Enabled: true}
	cu := Destination{ID: "ds_efgh5678", Kind: KindCustom, URL: customURL}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("relay", "destination", tw, "other", cu)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %s %#v %q", tw, tw, tw, tw, tw),
		fmt.Sprintf("%v %+v %#v", cu, []Destination{cu}, &cu),
		fmt.Errorf("relay to %v: %w", tw, ErrInvalidDestination).Error(),
		logged.String(),
	} {
		for _, s := range []string{twitchKey, customName, "tok-secret-999"} {
			if strings.Contains(out, s) {
				t.Errorf("formatting a destination shows a secret: %s", out)
			}
		}
		if !strings.Contains(out, "…") {
			t.Errorf("formatting a destination shows nothing of it: %s", out)
		}
	}
	if !strings.Contains(logged.String(), `"destination":{"id":"ds_abcd1234","kind":"twitch","key":"…0123","url":"","enabled":true}`) {
		t.Errorf("logged as %s", logged.String())
	}
}
