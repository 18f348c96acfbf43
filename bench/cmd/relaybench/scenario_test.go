package main

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// scenarioCases drive TestParseScenarios and FuzzParseScenarios's seeds.
var scenarioCases = []struct {
	in      string
	want    []scenario
	wantErr bool
}{
	{"1x10,20x1", []scenario{{1, 10}, {20, 1}}, false},
	{" 3x2 ", []scenario{{3, 2}}, false},
	{"0x1", nil, true},
	{"1x", nil, true},
	{"20", nil, true},
	{"1x10,", nil, true},
	{"-1x-1", nil, true},
	{"100x101", nil, true}, // more relays than maxScenarioRelays
}

func TestParseScenarios(t *testing.T) {
	for _, tc := range scenarioCases {
		got, err := parseScenarios(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseScenarios(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseScenarios(f *testing.F) {
	for _, tc := range scenarioCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseScenarios(in)
		if err != nil {
			return
		}
		var parts []string
		for _, s := range got {
			if s.streams < 1 || s.dests < 1 || s.streams*s.dests > maxScenarioRelays {
				t.Fatalf("parseScenarios(%q) accepted %v", in, s)
			}
			parts = append(parts, s.String())
		}
		again, err := parseScenarios(strings.Join(parts, ","))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %q: %v, %v; want %v", in, again, err, got)
		}
	})
}

var countCases = []struct {
	in      string
	want    []int
	wantErr bool
}{
	{"20,50,100,200", []int{20, 50, 100, 200}, false},
	{"5", []int{5}, false},
	{"50,20", nil, true},
	{"20,20", nil, true},
	{"0", nil, true},
	{"x", nil, true},
	{"", nil, true},
}

func TestParseCounts(t *testing.T) {
	for _, tc := range countCases {
		got, err := parseCounts(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseCounts(f *testing.F) {
	for _, tc := range countCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseCounts(in)
		if err != nil {
			return
		}
		var parts []string
		for i, n := range got {
			if n < 1 || n > maxScenarioRelays || (i > 0 && n <= got[i-1]) {
				t.Fatalf("parseCounts(%q) accepted %v", in, got)
			}
			parts = append(parts, strconv.Itoa(n))
		}
		again, err := parseCounts(strings.Join(parts, ","))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %q: %v, %v; want %v", in, again, err, got)
		}
	})
}
