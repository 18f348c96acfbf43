package relay

import (
	"net/url"
	"strings"
	"testing"
)

var urlCases = []struct {
	name, base, key string
	params          url.Values
	want            string // "" when URL must fail
	app, stream     string
	public, addr    string
}{
	{"youtube", YouTubeBase, "abcd-efgh-ijkl", nil,
		"rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl", "live2", "abcd-efgh-ijkl", "rtmp://a.rtmp.youtube.com", "a.rtmp.youtube.com:1935"},
	{"facebook", FacebookBase, "FB-123-0-AbC", nil,
		"rtmps://live-api-s.facebook.com:443/rtmp/FB-123-0-AbC", "rtmp", "FB-123-0-AbC", "rtmps://live-api-s.facebook.com:443", "live-api-s.facebook.com:443"},
	{"twitch params sorted", TwitchBase, "live_1_x", url.Values{"z": {"1"}, "bandwidthtest": {"true"}},
		"rtmp://live-jfk.twitch.tv/app/live_1_x?bandwidthtest=true&z=1", "app", "live_1_x?bandwidthtest=true&z=1", "rtmp://live-jfk.twitch.tv", "live-jfk.twitch.tv:1935"},
	{"trailing slash and nested app", "rtmp://127.0.0.1:1936/a/b/", "k", nil,
		"rtmp://127.0.0.1:1936/a/b/k", "a/b", "k", "rtmp://127.0.0.1:1936", "127.0.0.1:1936"},
	{"rtmps default port", "rtmps://example.com/app", "k", nil,
		"rtmps://example.com/app/k", "app", "k", "rtmps://example.com", "example.com:443"},
	{"empty key", YouTubeBase, "", nil, "", "", "", "", ""},
	{"key with slash", YouTubeBase, "a/b", nil, "", "", "", "", ""},
	{"key with query", YouTubeBase, "a?b", nil, "", "", "", "", ""},
	{"http", "http://example.com/app", "Zq9secret", nil, "", "", "", "", ""},
	{"no app", "rtmp://example.com", "Zq9secret", nil, "", "", "", "", ""},
	{"base with query", "rtmp://example.com/app?x=1", "Zq9secret", nil, "", "", "", "", ""},
}

func TestURL(t *testing.T) {
	for _, c := range urlCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := URL(c.base, c.key, c.params)
			if c.want == "" {
				if err == nil {
					t.Fatalf("URL = %q, want an error", got)
				}
				if c.key != "" && strings.Contains(err.Error(), c.key) {
					t.Errorf("error %q contains the key", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("URL = %q, %v; want %q", got, err, c.want)
			}
			d, err := parseDestination(got)
			if err != nil {
				t.Fatal(err)
			}
			if d.app != c.app || d.name != c.stream || d.public != c.public || d.addr != c.addr {
				t.Errorf("parsed %+v", d)
			}
			if strings.Contains(d.tcURL, c.key) || strings.Contains(redact(got), c.key) {
				t.Errorf("tcUrl %q or redacted %q contains the key", d.tcURL, redact(got))
			}
		})
	}
}

func TestStartRejectsBadURL(t *testing.T) {
	for _, u := range []string{"http://h/app/" + testKey, "rtmp:///app/" + testKey, "rtmp://h/" + testKey, "rtmp://u:" + testKey + "@h/app/k", "%zz" + testKey} {
		_, err := Start(Config{URL: u}, testVideo(), nil)
		if err == nil {
			t.Errorf("Start(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("Start(%q) error %q contains the key", u, err)
		}
	}
}

func FuzzURL(f *testing.F) {
	for _, c := range urlCases {
		f.Add(c.base, c.key, c.params.Encode())
	}
	f.Add("rtmp://[::1]:1935/live", "k%2Fx", "a=b")
	f.Add("rtmp://h:99999/live", "key", "")
	f.Fuzz(func(t *testing.T, base, key, query string) {
		params, _ := url.ParseQuery(query)
		u, err := URL(base, key, params)
		if err != nil {
			if len(key) >= 4 && strings.Contains(err.Error(), key) && !strings.Contains(base, key) {
				t.Fatalf("error %q contains the key %q", err, key)
			}
			return
		}
		d, err := parseDestination(u)
		if err != nil {
			t.Fatalf("URL made %q, which does not parse: %v", u, err)
		}
		if !strings.HasPrefix(d.name, key) {
			t.Fatalf("stream name %q of %q does not start with the key %q", d.name, u, key)
		}
		if r := redact(u); r != d.public || r != redact(base) {
			t.Fatalf("redacted %q, public %q, base redacted %q", r, d.public, redact(base))
		}
		if len(key) >= 4 && !strings.Contains(base, key) && (strings.Contains(d.public, key) || strings.Contains(d.tcURL, key)) {
			t.Fatalf("public %q or tcUrl %q contains the key %q", d.public, d.tcURL, key)
		}
	})
}
