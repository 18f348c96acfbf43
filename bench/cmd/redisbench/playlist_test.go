package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// mediaCases drive TestParseMediaPlaylist and seed FuzzParseMediaPlaylist;
// err means parseMediaPlaylist must refuse the text.
var mediaCases = []struct {
	text string
	want mediaPlaylist
	err  bool
}{
	{text: "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1764000000000\n" +
		"#EXTINF:2.000,\n1764000000000.ts\n#EXTINF:2.000,\n1764000000001.ts\n",
		want: mediaPlaylist{Target: 2, Sequence: 1764000000000, Segments: []string{"1764000000000.ts", "1764000000001.ts"}}},
	{text: "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n\r\n#EXTINF:6,\r\n0.ts\r\n#EXT-X-ENDLIST\r\n",
		want: mediaPlaylist{Target: 6, Segments: []string{"0.ts"}, Ended: true}},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n", want: mediaPlaylist{Target: 2}},
	{text: "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n0.ts\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:0\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:61\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:-1\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\nhttp://elsewhere/0.ts\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n../0.ts\n", err: true},
	{text: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n/hls/0.ts\n", err: true},
	{text: "#EXT-X-TARGETDURATION:2\n0.ts\n", err: true},
	{text: "", err: true},
}

func TestParseMediaPlaylist(t *testing.T) {
	for _, c := range mediaCases {
		got, err := parseMediaPlaylist(c.text)
		if c.err {
			if err == nil {
				t.Errorf("parseMediaPlaylist(%q) = %+v, want an error", c.text, got)
			}
			continue
		}
		if err != nil || !equalPlaylists(got, c.want) {
			t.Errorf("parseMediaPlaylist(%q) = %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
}

func equalPlaylists(a, b mediaPlaylist) bool {
	return a.Target == b.Target && a.Sequence == b.Sequence && a.Ended == b.Ended && slices.Equal(a.Segments, b.Segments)
}

// formatMediaPlaylist writes p as the origin does.
func formatMediaPlaylist(p mediaPlaylist) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n", p.Target, p.Sequence)
	for _, s := range p.Segments {
		fmt.Fprintf(&b, "#EXTINF:%d.000,\n%s\n", p.Target, s)
	}
	if p.Ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

// FuzzParseMediaPlaylist checks that what parseMediaPlaylist accepts is
// within its limits, lists only relative URIs, and formats back to the
// same playlist.
func FuzzParseMediaPlaylist(f *testing.F) {
	for _, c := range mediaCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseMediaPlaylist(text)
		if err != nil {
			return
		}
		if p.Target < 1 || p.Target > maxTargetDuration || p.Sequence < 0 || len(p.Segments) > maxPlaylistSegments {
			t.Fatalf("accepted %+v", p)
		}
		for _, s := range p.Segments {
			if !relativeURI(s) || strings.HasPrefix(s, "#") {
				t.Fatalf("accepted URI %q", s)
			}
		}
		again, err := parseMediaPlaylist(formatMediaPlaylist(p))
		if err != nil || !equalPlaylists(again, p) {
			t.Fatalf("round trip of %+v: %+v, %v", p, again, err)
		}
	})
}

var masterCases = []struct {
	text string
	want []string // nil: an error
}{
	{"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360\n360p/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1600000,RESOLUTION=854x480\n480p/index.m3u8\n", []string{"360p/index.m3u8", "480p/index.m3u8"}},
	{"#EXTM3U\n", nil},
	{"#EXTM3U\n360p/index.m3u8\n", nil},
	{"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttps://x/y.m3u8\n", nil},
	{"360p/index.m3u8\n", nil},
}

func TestParseMasterPlaylist(t *testing.T) {
	for _, c := range masterCases {
		got, err := parseMasterPlaylist(c.text)
		if (err != nil) != (c.want == nil) || !slices.Equal(got, c.want) {
			t.Errorf("parseMasterPlaylist(%q) = %q, %v; want %q", c.text, got, err, c.want)
		}
	}
}

// FuzzParseMasterPlaylist checks that parseMasterPlaylist returns at least
// one variant, each a relative URI, and the same variants again from a
// master playlist written with them.
func FuzzParseMasterPlaylist(f *testing.F) {
	for _, c := range masterCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := parseMasterPlaylist(text)
		if err != nil {
			return
		}
		if len(v) == 0 {
			t.Fatal("accepted a master playlist without variants")
		}
		var b strings.Builder
		b.WriteString("#EXTM3U\n")
		for _, u := range v {
			if !relativeURI(u) {
				t.Fatalf("accepted URI %q", u)
			}
			fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=1\n%s\n", u)
		}
		again, err := parseMasterPlaylist(b.String())
		if err != nil || !slices.Equal(again, v) {
			t.Fatalf("round trip of %q: %q, %v", v, again, err)
		}
	})
}
