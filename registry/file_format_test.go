package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const goodChannel = `{"channel_id": "ch_aaaaaaaaaaaa", "name": "x", "playback_id": "aaaaaaaaaaaaaaaa",
 "created_at": "2026-01-01T00:00:00Z", "key_rotated_at": "2026-01-02T00:00:00Z",
 "key_sha256": "95808e5d92709002f2a6f0682834d993637ad42dd2baaf8e4549c293cb8db8e0"}`

// otherChannel is goodChannel with other ids, hash and times.
var otherChannel = strings.NewReplacer("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "aaaaaaaaaaaa", "bbbbbbbbbbbb", "95808e", "000000", "2026-01-0", "2027-01-0").Replace(goodChannel)

// Destinations as the file holds them.
const (
	goodTwitch = `{"id": "ds_aaaaaaaa", "kind": "twitch", "key": "live_1234", "enabled": true, "created_at": "2026-01-03T00:00:00Z"}`
	goodCustom = `{"id": "ds_bbbbbbbb", "kind": "custom", "url": "rtmp://h/app/k?q=1", "enabled": false, "created_at": "2026-01-04T00:00:00Z"}`
)

// withDestinations is channel (goodChannel's JSON) with destinations.
func withDestinations(channel string, destinations ...string) string {
	return strings.TrimSuffix(channel, "}") + `, "destinations": [` + strings.Join(destinations, ", ") + `]}`
}

// withSettings is channel (goodChannel's JSON) with settings (their JSON).
func withSettings(channel, settings string) string {
	return strings.TrimSuffix(channel, "}") + `, "settings": ` + settings + `}`
}

// fileCases drive TestParseFile and seed FuzzParseFile: what the channels
// file may hold, and what must be refused (want names the error).
var fileCases = []struct {
	name, data, want string
}{
	{"empty registry", `{"version": 1, "channels": []}`, ""},
	{"null channels", `{"version": 1, "channels": null}`, ""},
	{"one channel", `{"version": 1, "channels": [` + goodChannel + `]}`, ""},
	{"newest first in the file", `{"version": 1, "channels": [` + otherChannel + `, ` + goodChannel + `]}`, ""},
	{"destinations", `{"version": 1, "channels": [` + withDestinations(goodChannel, goodTwitch, goodCustom) + `, ` + otherChannel + `]}`, ""},
	{"no destinations", `{"version": 1, "channels": [` + withDestinations(goodChannel) + `]}`, ""},
	{"most destinations", `{"version": 1, "channels": [` + withDestinations(goodChannel, manyDestinations(MaxDestinations)...) + `]}`, ""},
	{"settings", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": "10s", "keep_on_unpublish": true}`) + `, ` + otherChannel + `]}`, ""},
	{"window of 0", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": "0s"}`) + `]}`, ""},
	{"empty settings", `{"version": 1, "channels": [` + withSettings(goodChannel, `{}`) + `]}`, ""},
	{"settings and destinations", `{"version": 1, "channels": [` + withSettings(withDestinations(goodChannel, goodTwitch), `{"keep_on_unpublish": true}`) + `]}`, ""},
	{"window over an hour", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": "61m"}`) + `]}`, "ch_aaaaaaaaaaaa: settings: invalid channel settings: reconnect_window"},
	{"negative window", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": "-1s"}`) + `]}`, "reconnect_window"},
	{"window in nanoseconds", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": 10000000000}`) + `]}`, "duration string"},
	{"unknown setting", `{"version": 1, "channels": [` + withSettings(goodChannel, `{"latency": "low"}`) + `]}`, "unknown field"},
	{"empty file", "", "empty file"},
	{"whitespace", " \n", "empty file"},
	{"not JSON", "channels: []", "not a channels file"},
	{"array", "[]", "not a channels file"},
	{"truncated", `{"version": 1, "channels": [`, "not a channels file"},
	{"trailing data", `{"version": 1, "channels": []}]`, "data after"},
	{"no version", `{"channels": []}`, "version 0"},
	{"future version", `{"version": 2, "channels": []}`, "version 2"},
	{"unknown field", `{"version": 1, "channels": [], "relays": {}}`, "unknown field"},
	{"unknown channel field", `{"version": 1, "channels": [` + strings.Replace(goodChannel, `"name"`, `"stream_key": "sk_", "name"`, 1) + `]}`, "unknown field"},
	{"bad id", `{"version": 1, "channels": [` + strings.Replace(goodChannel, "ch_aaaaaaaaaaaa", "ch_AAAAAAAAAAAA", 1) + `]}`, "channel_id"},
	{"bad playback id", `{"version": 1, "channels": [` + strings.Replace(goodChannel, `"aaaaaaaaaaaaaaaa"`, `"aaa"`, 1) + `]}`, "playback_id"},
	{"bad hash", `{"version": 1, "channels": [` + strings.Replace(goodChannel, "95808e", "95808E", 1) + `]}`, "key_sha256"},
	{"control in name", `{"version": 1, "channels": [` + strings.Replace(goodChannel, `"x"`, `"x\u001b"`, 1) + `]}`, "name"},
	{"no created_at", `{"version": 1, "channels": [` + strings.Replace(goodChannel, `"created_at"`, `"_"`, 1) + `]}`, "unknown field"},
	{"zero created_at", `{"version": 1, "channels": [` + strings.Replace(goodChannel, `"2026-01-01T00:00:00Z"`, `"0001-01-01T00:00:00Z"`, 1) + `]}`, "created_at"},
	{"duplicate", `{"version": 1, "channels": [` + goodChannel + `, ` + goodChannel + `]}`, "used twice"},
	{"destination id used twice", `{"version": 1, "channels": [` + withDestinations(goodChannel, goodTwitch) + `, ` + withDestinations(otherChannel, goodTwitch) + `]}`, "id ds_aaaaaaaa used twice"},
	{"bad destination id", `{"version": 1, "channels": [` + withDestinations(goodChannel, strings.Replace(goodTwitch, "ds_aaaaaaaa", "ds_AAAAAAAA", 1)) + `]}`, "destinations[0]: id"},
	{"bad destination kind", `{"version": 1, "channels": [` + withDestinations(goodChannel, goodCustom, strings.Replace(goodTwitch, "twitch", "tv", 1)) + `]}`, "destinations[1]: ds_aaaaaaaa: invalid destination: kind"},
	{"destination without key", `{"version": 1, "channels": [` + withDestinations(goodChannel, strings.Replace(goodTwitch, `"key": "live_1234", `, "", 1)) + `]}`, "key required"},
	{"destination without created_at", `{"version": 1, "channels": [` + withDestinations(goodChannel, strings.Replace(goodTwitch, "2026-01-03T00:00:00Z", "0001-01-01T00:00:00Z", 1)) + `]}`, "created_at missing"},
	{"unknown destination field", `{"version": 1, "channels": [` + withDestinations(goodChannel, strings.Replace(goodTwitch, `"kind"`, `"region": "eu", "kind"`, 1)) + `]}`, "unknown field"},
	{"too many destinations", `{"version": 1, "channels": [` + withDestinations(goodChannel, manyDestinations(MaxDestinations+1)...) + `]}`, "17 destinations"},
}

// manyDestinations returns n destinations' JSON.
func manyDestinations(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.Replace(goodTwitch, "ds_aaaaaaaa", fmt.Sprintf("ds_%08d", i), 1)
	}
	return out
}

func TestParseFile(t *testing.T) {
	for _, tc := range fileCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseFile([]byte(tc.data))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("parseFile: %v", err)
				}
				checkRoundTrip(t, s)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseFile = %v, want an error about %q", err, tc.want)
			}
		})
	}
	s, err := parseFile([]byte(fileCases[3].data))
	if err != nil {
		t.Fatal(err)
	}
	if cs := s.list(); len(cs) != 2 || cs[0].ID != "ch_aaaaaaaaaaaa" {
		t.Errorf("channels not sorted oldest first: %+v", cs)
	}

	// Destinations keep their order, and every field.
	s, err = parseFile([]byte(fileCases[4].data))
	if err != nil {
		t.Fatal(err)
	}
	ds := s.channels[0].Destinations
	if len(ds) != 2 || ds[0].ID != "ds_aaaaaaaa" || ds[0].Key != "live_1234" || !ds[0].Enabled ||
		ds[1].ID != "ds_bbbbbbbb" || ds[1].URL != "rtmp://h/app/k?q=1" || ds[1].Enabled || ds[1].Key != "" {
		t.Errorf("destinations read as %+v", ds)
	}
	if s.byDest["ds_bbbbbbbb"] != 0 || len(s.byDest) != 2 {
		t.Errorf("destinations indexed as %v", s.byDest)
	}
}

// TestFileWithoutDestinations checks that a channel without destinations
// is written as before destinations existed, so that older versions of
// livestream still read the file.
func TestFileWithoutDestinations(t *testing.T) {
	old := `{"version": 1, "channels": [` + goodChannel + `]}`
	for _, data := range []string{old, `{"version": 1, "channels": [` + withDestinations(goodChannel) + `]}`} {
		s, err := parseFile([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if out := s.encode(); bytes.Contains(out, []byte("destinations")) {
			t.Errorf("a channel without destinations is written with them:\n%s", out)
		}
	}
}

// TestFileWithoutSettings checks that a channel without settings is
// written as before settings existed, so that older versions of livestream
// still read the file; and that one with settings keeps them.
func TestFileWithoutSettings(t *testing.T) {
	for _, data := range []string{
		`{"version": 1, "channels": [` + goodChannel + `]}`,
		`{"version": 1, "channels": [` + withSettings(goodChannel, `{}`) + `]}`,
		`{"version": 1, "channels": [` + withSettings(goodChannel, `{"reconnect_window": null, "keep_on_unpublish": false}`) + `]}`,
	} {
		s, err := parseFile([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if out := s.encode(); bytes.Contains(out, []byte("settings")) {
			t.Errorf("a channel without settings is written with them:\n%s", out)
		}
	}
	s, err := parseFile([]byte(fileCases[7].data))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.channels[0].Settings; st.ReconnectWindowOr(0) != 10*time.Second || !st.KeepOnUnpublish || !s.channels[1].Settings.IsZero() {
		t.Errorf("settings read as %+v and %+v", st, s.channels[1].Settings)
	}
	if out := s.encode(); !bytes.Contains(out, []byte(`"reconnect_window": "10s"`)) {
		t.Errorf("the window is not written as a duration string:\n%s", out)
	}
}

// checkRoundTrip checks that s encodes to a file that parses back to s, and
// that encoding is stable.
func checkRoundTrip(t *testing.T, s *snapshot) {
	t.Helper()
	data := s.encode()
	back, err := parseFile(data)
	if err != nil {
		t.Fatalf("parseFile of encode's output: %v\n%s", err, data)
	}
	if again := back.encode(); !bytes.Equal(again, data) {
		t.Fatalf("encode not stable:\n%s\n%s", data, again)
	}
	if len(back.channels) != len(s.channels) {
		t.Fatalf("round trip: %d channels, want %d", len(back.channels), len(s.channels))
	}
	for i, c := range s.channels {
		b := back.channels[i]
		if !sameChannel(b.Channel, c.Channel) || b.KeyHash != c.KeyHash || !slices.EqualFunc(b.Destinations, c.Destinations, sameDestination) {
			t.Fatalf("round trip changed channel %d: %+v, want %+v", i, b, c)
		}
		for _, d := range c.Destinations {
			if back.byDest[d.ID] != i {
				t.Fatalf("round trip: destination %s of channel %d is not indexed", d.ID, i)
			}
		}
		if back.byID[c.ID] != i || back.byPID[c.PlaybackID] != i || back.byHash[c.KeyHash] != i {
			t.Fatalf("round trip: channel %d is not indexed", i)
		}
	}
}

// FuzzParseFile checks that no file content makes parseFile panic, and that
// what it accepts survives a round trip through encode.
func FuzzParseFile(f *testing.F) {
	for _, tc := range fileCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseFile(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, s)
	})
}
