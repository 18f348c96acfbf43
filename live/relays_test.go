package live

import (
	"github.com/livestream/livestream/registry"
	"net/url"
	"reflect"
	"testing"
)

func TestDestinationsFromQuery(t *testing.T) {
	q, _ := url.ParseQuery("twitch=tk&youtube=yk&facebook=fk&facebook_s_bl=1&facebook_a=xyz&youtube_x=&other=1&twitch_=2")
	ds := destinationsFromQuery(q)
	if len(ds) != 3 || ds[0].kind != "twitch" || ds[1].kind != "youtube" || ds[2].kind != "facebook" {
		t.Fatalf("destinations %+v", ds)
	}
	if ds[0].key != "tk" || len(ds[0].params) != 0 {
		t.Errorf("twitch: %+v (an empty parameter name is not passed on)", ds[0])
	}
	if want := (url.Values{"x": {""}}); !reflect.DeepEqual(ds[1].params, want) {
		t.Errorf("youtube params %v, want %v", ds[1].params, want)
	}
	if want := (url.Values{"s_bl": {"1"}, "a": {"xyz"}}); ds[2].key != "fk" || !reflect.DeepEqual(ds[2].params, want) {
		t.Errorf("facebook %+v, want params %v", ds[2], want)
	}
	if ds := destinationsFromQuery(url.Values{"youtube": {" "}}); len(ds) != 0 {
		t.Errorf("a blank key makes a destination: %+v", ds)
	}
}

func TestDestinationsFromStore(t *testing.T) {
	ds := destinationsFromStore([]registry.Destination{
		{ID: "ds_a", Kind: "facebook", Key: "fbkey?s_bl=1&a=x", Enabled: true},
		{ID: "ds_b", Kind: "youtube", Key: "ytkey", Enabled: false},
		{ID: "ds_c", Kind: "custom", URL: "rtmps://example.test/app/k", Enabled: true},
		{ID: "ds_d", Kind: "twitch", Key: "tk", URL: "rtmp://other.test/app", Enabled: true},
	})
	if len(ds) != 3 || ds[0].id != "ds_a" || ds[1].id != "ds_c" || ds[2].id != "ds_d" {
		t.Fatalf("destinations %+v: want the three enabled ones, in order", ds)
	}
	cfg := RelayConfig{}.withDefaults()
	for _, c := range []struct {
		d    destination
		want string
	}{
		{ds[0], "rtmps://live-api-s.facebook.com:443/rtmp/fbkey?a=x&s_bl=1"},
		{ds[1], "rtmps://example.test/app/k"},
		{ds[2], "rtmp://other.test/app/tk"},
	} {
		got, err := c.d.url(cfg)
		if err != nil || got != c.want {
			t.Errorf("%s: URL %q, %v; want %q", c.d.id, got, err, c.want)
		}
	}
}
