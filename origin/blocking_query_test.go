package origin

import (
	"strings"
	"testing"
)

// blockingQueryCases drive TestParseBlockingQuery, the handler's 400s
// (TestBlockingBadQuery) and FuzzBlockingQuery's seeds. canon is the
// query's canonical form; ok=false is a 400.
var blockingQueryCases = []struct {
	name, raw string
	ok        bool
	want      blockingQuery
	canon     string
}{
	{"none", "", true, blockingQuery{part: -1}, ""},
	{"msn", "_HLS_msn=1732430000001", true, blockingQuery{blocking: true, msn: 1732430000001, part: -1}, "_HLS_msn=1732430000001"},
	{"msn and part", "_HLS_msn=1732430000001&_HLS_part=2", true,
		blockingQuery{blocking: true, msn: 1732430000001, part: 2}, "_HLS_msn=1732430000001&_HLS_part=2"},
	{"all three", "_HLS_msn=7&_HLS_part=0&_HLS_skip=YES", true,
		blockingQuery{blocking: true, msn: 7, part: 0, skip: "YES"}, "_HLS_msn=7&_HLS_part=0&_HLS_skip=YES"},
	{"other order", "_HLS_skip=v2&_HLS_part=3&_HLS_msn=7", true,
		blockingQuery{blocking: true, msn: 7, part: 3, skip: "v2"}, "_HLS_msn=7&_HLS_part=3&_HLS_skip=v2"},
	{"skip alone", "_HLS_skip=YES", true, blockingQuery{part: -1, skip: "YES"}, "_HLS_skip=YES"},
	{"leading zeros", "_HLS_msn=007&_HLS_part=01", true, blockingQuery{blocking: true, msn: 7, part: 1}, "_HLS_msn=7&_HLS_part=1"},
	{"unknown parameters ignored", "t=123&_HLS_msn=5&token=a%20b&&x", true,
		blockingQuery{blocking: true, msn: 5, part: -1}, "_HLS_msn=5"},
	{"escaped digits", "_HLS_msn=%35", true, blockingQuery{blocking: true, msn: 5, part: -1}, "_HLS_msn=5"},
	{"largest msn", "_HLS_msn=9223372036854775807", true,
		blockingQuery{blocking: true, msn: 9223372036854775807, part: -1}, "_HLS_msn=9223372036854775807"},
	{"largest part", "_HLS_msn=1&_HLS_part=999", true, blockingQuery{blocking: true, msn: 1, part: 999}, "_HLS_msn=1&_HLS_part=999"},

	{"part without msn", "_HLS_part=2", false, blockingQuery{}, ""},
	{"part without msn, skip", "_HLS_part=2&_HLS_skip=YES", false, blockingQuery{}, ""},
	{"msn empty", "_HLS_msn=", false, blockingQuery{}, ""},
	{"msn without value", "_HLS_msn", false, blockingQuery{}, ""},
	{"msn negative", "_HLS_msn=-1", false, blockingQuery{}, ""},
	{"msn signed", "_HLS_msn=+1", false, blockingQuery{}, ""},
	{"msn decimal", "_HLS_msn=1.0", false, blockingQuery{}, ""},
	{"msn hex", "_HLS_msn=0x10", false, blockingQuery{}, ""},
	{"msn space", "_HLS_msn=1%20", false, blockingQuery{}, ""},
	{"msn overflows", "_HLS_msn=9223372036854775808", false, blockingQuery{}, ""},
	{"msn too long", "_HLS_msn=" + strings.Repeat("0", maxSegmentDigits+1), false, blockingQuery{}, ""},
	{"part too long", "_HLS_msn=1&_HLS_part=1000", false, blockingQuery{}, ""},
	{"part negative", "_HLS_msn=1&_HLS_part=-1", false, blockingQuery{}, ""},
	{"msn twice", "_HLS_msn=1&_HLS_msn=2", false, blockingQuery{}, ""},
	{"msn twice, same", "_HLS_msn=1&_HLS_msn=1", false, blockingQuery{}, ""},
	{"part twice", "_HLS_msn=1&_HLS_part=1&_HLS_part=1", false, blockingQuery{}, ""},
	{"skip twice", "_HLS_skip=YES&_HLS_skip=YES", false, blockingQuery{}, ""},
	{"skip lower case", "_HLS_skip=yes", false, blockingQuery{}, ""},
	{"skip NO", "_HLS_skip=NO", false, blockingQuery{}, ""},
	{"skip empty", "_HLS_skip=", false, blockingQuery{}, ""},
	{"bad escape", "_HLS_msn=1&x=%zz", false, blockingQuery{}, ""},
	{"stream key as msn", "_HLS_msn=" + testStreamKey, false, blockingQuery{}, ""},
}

func TestParseBlockingQuery(t *testing.T) {
	for _, c := range blockingQueryCases {
		got, err := parseBlockingQuery(c.raw)
		if (err == nil) != c.ok {
			t.Errorf("%s: parseBlockingQuery(%q) error %v, want ok=%v", c.name, c.raw, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if got != c.want {
			t.Errorf("%s: parseBlockingQuery(%q) = %+v, want %+v", c.name, c.raw, got, c.want)
		}
		if enc := got.encode(); enc != c.canon {
			t.Errorf("%s: encode = %q, want %q", c.name, enc, c.canon)
		}
	}
}

// FuzzBlockingQuery: any query parses or is refused, never panics; what
// parses keeps its bounds, encodes to a canonical form made of the
// directives alone, which parses back to the same directives.
func FuzzBlockingQuery(f *testing.F) {
	for _, c := range blockingQueryCases {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseBlockingQuery(raw)
		if err != nil {
			return
		}
		if q.msn < 0 || q.part < -1 || q.part >= 1000 || !q.blocking && (q.msn != 0 || q.part != -1) {
			t.Fatalf("parseBlockingQuery(%q) = %+v", raw, q)
		}
		if q.skip != "" && q.skip != skipYes && q.skip != skipV2 {
			t.Fatalf("parseBlockingQuery(%q): skip %q", raw, q.skip)
		}
		enc := q.encode()
		if !all(enc, func(c byte) bool { return isAlnum(c) || c == '_' || c == '=' || c == '&' }) {
			t.Fatalf("encode of %q = %q", raw, enc)
		}
		back, err := parseBlockingQuery(enc)
		if err != nil || back != q {
			t.Fatalf("%q encodes to %q, which parses to %+v, %v; want %+v", raw, enc, back, err, q)
		}
		if back.encode() != enc {
			t.Fatalf("%q: encode is not canonical: %q then %q", raw, enc, back.encode())
		}
	})
}
