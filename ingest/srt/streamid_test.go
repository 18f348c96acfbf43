package srt

import (
	"errors"
	"strings"
	"testing"
)

// streamIDCases drive TestParseStreamID and seed FuzzParseStreamID.
var streamIDCases = []struct {
	in      string
	key, qs string
	err     error
}{
	{in: "#!::r=stream/KEY1,m=publish", key: "KEY1"},
	{in: "#!::m=publish,r=stream/KEY1", key: "KEY1"},
	{in: "#!::r=KEY1", key: "KEY1"},
	{in: "#!::r=stream/KEY1?twitch=T,m=publish,u=bob,t=stream", key: "KEY1", qs: "twitch=T"},
	{in: "KEY1", key: "KEY1"},
	{in: "stream/KEY1", key: "KEY1"},
	{in: "KEY1?youtube=Y&twitch=T", key: "KEY1", qs: "youtube=Y&twitch=T"},
	{in: "#!::r=stream/KEY1,m=request", err: errNotPublish},
	{in: "#!::r=stream/KEY1,m=bidirectional", err: errNotPublish},
	{in: "#!::m=publish", err: errBadStreamID},
	{in: "#!::r=stream/KEY1,r=stream/KEY2", err: errBadStreamID},
	{in: "#!::r", err: errBadStreamID},
	{in: "", err: errBadStreamID},
	{in: "other/KEY1", err: errBadStreamID},
	{in: "stream/", err: errBadStreamID},
	{in: strings.Repeat("k", maxStreamID+1), err: errBadStreamID},
}

func TestParseStreamID(t *testing.T) {
	for _, c := range streamIDCases {
		got, err := parseStreamID(c.in, "stream")
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: %v, want %v", c.in, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "KEY1") {
				t.Errorf("%q: the error %q names the key", c.in, err)
			}
			continue
		}
		if err != nil || got.key != c.key || got.rawQuery != c.qs {
			t.Errorf("%q: %+v, %v; want key %q query %q", c.in, got, err, c.key, c.qs)
		}
	}
}

// FuzzParseStreamID: whatever the input, a key comes out non-empty,
// without '/' or '?', and is part of the input; an error never
// quotes more than a short, printable word.
func FuzzParseStreamID(f *testing.F) {
	for _, c := range streamIDCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseStreamID(s, "stream")
		if err != nil {
			if len(err.Error()) > 200 || strings.ContainsAny(err.Error(), "\x00\n\r") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if id.key == "" || strings.ContainsAny(id.key, "/?") || !strings.Contains(s, id.key) {
			t.Fatalf("%q: key %q", s, id.key)
		}
	})
}
