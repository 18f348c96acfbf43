package record

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// manifestCases drive the manifest's encode, parse and fuzz seeds.
var manifestCases = []struct {
	name string
	m    manifest
}{
	{"started", manifest{PlaybackID: "pb", Session: testStart, StartedAt: time.UnixMilli(testStart),
		Renditions: []hlsmux.Variant{{Name: "720p", Bandwidth: 3_000_000, Width: 1280, Height: 720, Codecs: "avc1.4d401f,mp4a.40.2", FrameRate: 30}}}},
	{"segments and a drop", manifest{PlaybackID: "pb", Session: testStart + 1, StartedAt: time.UnixMilli(testStart),
		Renditions: []hlsmux.Variant{{Name: "720p"}},
		Entries: []manifestEntry{
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 10, Name: "10.ts", Duration: 2002 * time.Millisecond, Size: 1234, StartPTS: 900000}},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 11}, Dropped: true},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 12, Name: "12.ts", Duration: 1500 * time.Millisecond, Size: 99, Discontinuity: true}},
		}}},
	{"fMP4 with two init sections", manifest{PlaybackID: "pb", Session: testStart, StartedAt: time.UnixMilli(testStart),
		Renditions: []hlsmux.Variant{{Name: "720p"}},
		Entries: []manifestEntry{
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Name: "init-10.mp4", Size: 800}, Init: true},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 10, Name: "10.m4s", Duration: 2 * time.Second, Size: 1234,
				StartPTS: 900000, Init: "init-10.mp4", ProgramDateTime: time.UnixMilli(testStart + 123)}},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 11}, Dropped: true},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Name: "init-12.mp4", Size: 810}, Init: true},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 12, Name: "12.m4s", Duration: time.Second, Size: 99,
				Discontinuity: true, Init: "init-12.mp4"}},
		}, Ended: true}},
	{"all renditions, ended", manifest{PlaybackID: "a-b_c.d", Session: 1, StartedAt: time.UnixMilli(0), Master: true,
		Renditions: []hlsmux.Variant{{Name: "360p", Bandwidth: 1}, {Name: "720p", Bandwidth: 2}},
		Entries: []manifestEntry{
			{Rendition: "360p", Seg: hlsmux.SegmentInfo{Seq: 0, Name: "0.ts", Duration: time.Second, Size: 1}},
			{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 0, Name: "0.ts", Duration: time.Second, Size: 2}},
		}, Ended: true}},
}

func TestManifestRoundTrip(t *testing.T) {
	for _, c := range manifestCases {
		t.Run(c.name, func(t *testing.T) {
			data := c.m.encode()
			got, err := parseManifest(data)
			if err != nil {
				t.Fatalf("parse:\n%s\n%v", data, err)
			}
			if !manifestsEqual(got, &c.m) {
				t.Errorf("parse(encode(m)) = %+v, want %+v", got, c.m)
			}
			// A crash in the middle of an append: the torn line is ignored.
			torn := append(append([]byte{}, data...), `{"k":"segment","rendi`...)
			if got, err := parseManifest(torn); err != nil || !manifestsEqual(got, &c.m) {
				t.Errorf("torn last line: %+v, %v", got, err)
			}
		})
	}
}

func manifestsEqual(a, b *manifest) bool {
	return a.PlaybackID == b.PlaybackID && a.Session == b.Session && a.StartedAt.Equal(b.StartedAt) &&
		a.Master == b.Master && a.Ended == b.Ended &&
		reflect.DeepEqual(a.Renditions, b.Renditions) && len(a.Entries) == len(b.Entries) &&
		(len(a.Entries) == 0 || reflect.DeepEqual(a.Entries, b.Entries))
}

// TestManifestBeforeFMP4: a manifest written before fMP4 recordings (no
// "ext", no "init") reads as MPEG-TS segments.
func TestManifestBeforeFMP4(t *testing.T) {
	old := `{"k":"start","playback_id":"pb","session":5,"started_ms":5,"renditions":[{"name":"720p"}]}` + "\n" +
		`{"k":"segment","rendition":"720p","seq":7,"duration_us":2000000,"size":10,"pts":90000}` + "\n"
	m, err := parseManifest([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	want := []manifestEntry{{Rendition: "720p", Seg: hlsmux.SegmentInfo{Seq: 7, Name: "7.ts", Duration: 2 * time.Second, Size: 10, StartPTS: 90000}}}
	if !reflect.DeepEqual(m.Entries, want) {
		t.Errorf("entries %+v, want %+v", m.Entries, want)
	}
	if got := string(m.encode()); got != old {
		t.Errorf("encodes to\n%s\nwant\n%s", got, old)
	}
}

func TestManifestBad(t *testing.T) {
	start := `{"k":"start","playback_id":"pb","session":5,"started_ms":5,"renditions":[{"name":"720p"}]}` + "\n"
	for _, c := range []struct{ data, want string }{
		{"", "empty"},
		{`{"k":"segment","rendition":"720p","seq":1}` + "\n", "start line must be"},
		{start + start, "second start"},
		{`{"k":"start","playback_id":"../x","session":5,"renditions":[{"name":"720p"}]}` + "\n", "playback id"},
		{`{"k":"start","playback_id":"pb","session":0,"renditions":[{"name":"720p"}]}` + "\n", "session id"},
		{`{"k":"start","playback_id":"pb","session":5,"renditions":[{"name":"a"},{"name":"b"}]}` + "\n", "without a master"},
		{`{"k":"start","playback_id":"pb","session":5,"master":true,"renditions":[{"name":"a"},{"name":"a"}]}` + "\n", "twice"},
		{`{"k":"start","playback_id":"pb","session":5,"renditions":[{"name":"a","codecs":"x\"y"}]}` + "\n", "codecs"},
		{start + `{"k":"segment","rendition":"1080p","seq":1}` + "\n", "not in the start line"},
		{start + `{"k":"segment","rendition":"720p","seq":2}` + "\n" + `{"k":"segment","rendition":"720p","seq":2}` + "\n", "not after"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"duration_us":-1}` + "\n", "duration"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"size":-1}` + "\n", "size"},
		{start + `{"k":"drop","rendition":"720p","seq":1,"size":3}` + "\n", "drop line with"},
		{start + `{"k":"end"}` + "\n" + `{"k":"end"}` + "\n", "after the end"},
		{start + `{"k":"end","seq":3}` + "\n", "end line with"},
		{start + `{"k":"what"}` + "\n", "unknown kind"},
		{start + `{"k":"end","x":1}` + "\n", "unknown field"},
		{start + "{} {}\n", "more than one"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"ext":".mp4"}` + "\n", "extension"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"ext":".m4s"}` + "\n", "not in an init line"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"ext":".m4s","init":"init-1.mp4"}` + "\n", "not in an init line"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"init":"init-1.mp4"}` + "\n", "MPEG-TS segment with an init"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"pdt_ms":-1}` + "\n", "date-time"},
		{start + `{"k":"segment","rendition":"720p","seq":1,"name":"1.ts"}` + "\n", "with a name"},
		{start + `{"k":"drop","rendition":"720p","seq":1,"init":"init-1.mp4"}` + "\n", "drop line with"},
		{start + `{"k":"init","rendition":"720p","name":"../x.mp4"}` + "\n", "want init-"},
		{start + `{"k":"init","rendition":"720p","name":"init-1.mp4x"}` + "\n", "want init-"},
		{start + `{"k":"init","rendition":"720p","name":"init-.mp4"}` + "\n", "want init-"},
		{start + `{"k":"init","rendition":"1080p","name":"init-1.mp4"}` + "\n", "not in the start line"},
		{start + `{"k":"init","rendition":"720p","name":"init-1.mp4","seq":3}` + "\n", "init line with segment"},
		{start + `{"k":"init","rendition":"720p","name":"init-1.mp4","size":99999999}` + "\n", "size"},
		{start + `{"k":"init","rendition":"720p","name":"init-1.mp4"}` + "\n" + `{"k":"init","rendition":"720p","name":"init-1.mp4"}` + "\n", "twice"},
	} {
		_, err := parseManifest([]byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseManifest(%q) = %v, want an error with %q", c.data, err, c.want)
		}
	}
}

// FuzzManifest: the reader never panics on what a disk may hold, and
// whatever it accepts encodes back to a manifest it reads the same.
func FuzzManifest(f *testing.F) {
	for _, c := range manifestCases {
		f.Add(c.m.encode())
	}
	f.Add([]byte(`{"k":"start","playback_id":"pb","session":5,"renditions":[{"name":"720p"}]}` + "\n" + `{"k":"segment","rendition":"720p","seq":9223372036854775807,"duration_us":3600000000}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		again, err := parseManifest(m.encode())
		if err != nil {
			t.Fatalf("a manifest read from %q encodes to one the reader refuses: %v", data, err)
		}
		if !manifestsEqual(m, again) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, again)
		}
	})
}

func TestSessionOf(t *testing.T) {
	for _, c := range []struct {
		name string
		pid  string
		id   int64
		ok   bool
	}{
		{"pb/vod-17.m3u8", "pb", 17, true},
		{"pb/17/720p/3.ts", "pb", 17, true},
		{"pb/17/720p/3.m4s", "pb", 17, true},
		{"pb/17/720p/init-3.mp4", "pb", 17, true},
		{"pb/17/session.json", "pb", 17, true},
		{"pb/vod-x.m3u8", "", 0, false},
		{"pb/017/session.json", "", 0, false},
		{"pb/live.m3u8", "", 0, false},
		{"pb", "", 0, false},
	} {
		pid, id, ok := sessionOf(c.name)
		if pid != c.pid || id != c.id || ok != c.ok {
			t.Errorf("sessionOf(%q) = %q, %d, %v", c.name, pid, id, ok)
		}
	}
}
