package live

import (
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
