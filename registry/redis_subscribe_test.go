package registry

import (
	"testing"
)

// changeCases drive TestParseChange and seed FuzzParseChange.
var changeCases = []struct {
	msg string
	ok  bool
}{
	{"v1 abcdefgh01234567 1 ch_aaaaaaaaaaaa", true},
	{"v1 abcdefgh01234567 2 ch_aaaaaaaaaaaa", true},
	{"v1 abcdefgh01234567 3 ch_0123456789ab", true},
	{"v1 abcdefgh01234567 4 ch_aaaaaaaaaaaa", true},
	{"v1 abcdefgh01234567 5 ch_aaaaaaaaaaaa", false},
	{"v1 abcdefgh01234567 0 ch_aaaaaaaaaaaa", false},
	{"v1 abcdefgh01234567 01 ch_aaaaaaaaaaaa", false},
	{"v1 abcdefgh01234567 +1 ch_aaaaaaaaaaaa", false},
	{"v2 abcdefgh01234567 1 ch_aaaaaaaaaaaa", false},
	{"v1 ABCDEFGH01234567 1 ch_aaaaaaaaaaaa", false},
	{"v1 abcdefgh0123456 1 ch_aaaaaaaaaaaa", false},
	{"v1 abcdefgh01234567 1 sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	{"v1 abcdefgh01234567 1 ch_aaaaaaaaaaaa extra", false},
	{"v1  abcdefgh01234567 1 ch_aaaaaaaaaaaa", false},
	{"", false},
}

func TestParseChange(t *testing.T) {
	for _, tc := range changeCases {
		from, c, err := parseChange(tc.msg)
		if (err == nil) != tc.ok {
			t.Errorf("parseChange(%q) = %v, want ok %v", tc.msg, err, tc.ok)
			continue
		}
		if tc.ok && formatChange(from, c) != tc.msg {
			t.Errorf("formatChange(parseChange(%q)) = %q", tc.msg, formatChange(from, c))
		}
	}
}

// FuzzParseChange checks that parseChange accepts exactly what
// formatChange writes: what it accepts formats back to the same message.
func FuzzParseChange(f *testing.F) {
	for _, tc := range changeCases {
		f.Add(tc.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		from, c, err := parseChange(msg)
		if err != nil {
			return
		}
		if got := formatChange(from, c); got != msg {
			t.Fatalf("parseChange(%q) formats back as %q", msg, got)
		}
		if c.What.String() == "" || !validChannelID(c.ChannelID) {
			t.Fatalf("parseChange(%q) = %+v", msg, c)
		}
	})
}
