package main

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// byteSizeCases drive the table test and seed the fuzz target.
var byteSizeCases = []struct {
	in   string
	want byteSize
	bad  bool
}{
	{in: "0", want: 0},
	{in: "1048576", want: 1 << 20},
	{in: "512MiB", want: 512 << 20},
	{in: "2GiB", want: 2 << 30},
	{in: "64 KiB", want: 64 << 10},
	{in: "1TiB", want: 1 << 40},
	{in: "1GB", want: 1e9},
	{in: "5KB", want: 5000},
	{in: "7B", want: 7},
	{in: "", bad: true},
	{in: "MiB", bad: true},
	{in: "-1", bad: true},
	{in: "+5", bad: true},
	{in: "1.5GiB", bad: true},
	{in: "12XB", bad: true},
	{in: "9223372036854775807TiB", bad: true},
	{in: "16777216TiB", bad: true}, // 2^64
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range byteSizeCases {
		got, err := parseByteSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseByteSize(%q) = %d, want an error", tc.in, got)
			} else if !strings.Contains(err.Error(), "size") {
				t.Errorf("parseByteSize(%q): error %q does not say what was wrong", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in   byteSize
		want string
	}{{0, "0"}, {512 << 20, "512MiB"}, {1536, "1536"}, {7, "7"}, {3 << 30, "3GiB"}} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("byteSize(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
	var c struct {
		Size byteSize `yaml:"size"`
	}
	if err := yaml.Unmarshal([]byte("size: 256MiB"), &c); err != nil || c.Size != 256<<20 {
		t.Errorf("YAML size: %d, %v", c.Size, err)
	}
	if err := yaml.Unmarshal([]byte("size: [1]"), &c); err == nil {
		t.Error("YAML size from a list: no error")
	}
}

// FuzzParseByteSize: any input parses or errs without panicking; a parsed
// size is not negative and reads back the same through String.
func FuzzParseByteSize(f *testing.F) {
	for _, tc := range byteSizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("parseByteSize(%q) = %d, negative", s, b)
		}
		again, err := parseByteSize(b.String())
		if err != nil || again != b {
			t.Fatalf("parseByteSize(%q) = %d, whose String %q reads back as %d, %v", s, b, b.String(), again, err)
		}
	})
}
