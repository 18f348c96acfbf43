package aac

import (
	"bytes"
	"errors"
	"testing"
)

// configCases drives ParseConfig, Marshal and the fuzz seeds.
var configCases = []struct {
	name string
	asc  []byte
	want Config
	// roundTrip: Marshal gives asc back (false when asc has trailing fields).
	roundTrip bool
}{
	{"LC 48 kHz stereo", []byte{0x11, 0x90}, Config{2, 48000, 2}, true},
	{"LC 44.1 kHz stereo", []byte{0x12, 0x10}, Config{2, 44100, 2}, true},
	{"LC 48 kHz mono", []byte{0x11, 0x88}, Config{2, 48000, 1}, true},
	{"ffmpeg's LC 44.1 kHz with SBR sync extension", []byte{0x12, 0x10, 0x56, 0xe5, 0x00}, Config{2, 44100, 2}, false},
	{"LC 22.05 kHz 5.1", []byte{0x13, 0xb0}, Config{2, 22050, 6}, true},
	{"explicit 37800 Hz", []byte{0x17, 0x80, 0x49, 0xd4, 0x10}, Config{2, 37800, 2}, true},
	{"escaped object type 42", []byte{0xf9, 0x46, 0x40}, Config{42, 48000, 2}, true},
}

func TestParseConfig(t *testing.T) {
	for _, c := range configCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseConfig(c.asc)
			if err != nil {
				t.Fatal(err)
			}
			if *got != c.want {
				t.Fatalf("ParseConfig(% x) = %+v, want %+v", c.asc, *got, c.want)
			}
			b, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if c.roundTrip && !bytes.Equal(b, c.asc) {
				t.Errorf("Marshal = % x, want % x", b, c.asc)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0x11}, {0x00, 0x00}, {0x11, 0x80}, {0x17, 0x80}} {
		if c, err := ParseConfig(b); err == nil {
			t.Errorf("ParseConfig(% x) = %+v, want an error", b, c)
		}
	}
}

func TestADTSRoundTrip(t *testing.T) {
	for _, c := range configCases {
		if c.want.ObjectType > 4 {
			if _, err := AppendADTS(nil, c.want, []byte{1}); !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: AppendADTS error %v, want ErrUnsupported", c.name, err)
			}
			continue
		}
		payload := bytes.Repeat([]byte{0xab}, 371)
		frame, err := AppendADTS([]byte{0x42}, c.want, payload)
		if _, ok := SampleRateIndex(c.want.SampleRate); !ok {
			if err == nil {
				t.Errorf("%s: AppendADTS accepted a rate without index", c.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		h, p, rest, err := ParseADTS(frame[1:])
		if err != nil || h.Config != c.want || !bytes.Equal(p, payload) || len(rest) != 0 || h.FrameLength != 7+len(payload) {
			t.Errorf("%s: ParseADTS = %+v, %d bytes, rest %d, %v", c.name, h, len(p), len(rest), err)
		}
	}
}

// TestADTSFromFFmpeg parses the last frames of
// `ffmpeg -f lavfi -i sine=sample_rate=48000 -ac 2 -t 0.03 -c:a aac -f adts -`:
// a 14-byte frame (7 header + 7 payload), written twice.
func TestADTSFromFFmpeg(t *testing.T) {
	frame := []byte{0xff, 0xf1, 0x4c, 0x80, 0x01, 0xdf, 0xfc, 0x21, 0x40, 0xda, 0x46, 0x08, 0xc1, 0xc0}
	payloads, cfg, err := SplitADTS(append(append([]byte(nil), frame...), frame...))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg != (Config{2, 48000, 2}) || len(payloads) != 2 || !bytes.Equal(payloads[1], frame[7:]) {
		t.Fatalf("SplitADTS = %+v, %d payloads", *cfg, len(payloads))
	}
	again, err := AppendADTS(nil, *cfg, payloads[0])
	if err != nil || !bytes.Equal(again, frame) {
		t.Errorf("AppendADTS = % x, %v; want ffmpeg's % x", again, err, frame)
	}
}

func TestADTSErrors(t *testing.T) {
	good, _ := AppendADTS(nil, Config{2, 48000, 2}, []byte{1, 2, 3})
	cases := map[string][]byte{
		"short":          good[:5],
		"no sync":        append([]byte{0x00}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"length < hdr":   {0xff, 0xf1, 0x4c, 0x80, 0x00, 0x1f, 0xfc},
		"bad rate index": {0xff, 0xf1, 0x7c, 0x80, 0x01, 0x3f, 0xfc, 0, 0},
	}
	for name, b := range cases {
		if _, _, _, err := ParseADTS(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := AppendADTS(nil, Config{2, 48000, 2}, make([]byte, MaxADTSFrameSize)); err == nil {
		t.Error("AppendADTS accepted a frame larger than 13 bits")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add(c.asc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		m, err := c.Marshal()
		if err != nil {
			return // e.g. a channel count Marshal cannot express
		}
		c2, err := ParseConfig(m)
		if err != nil || *c2 != *c {
			t.Fatalf("ParseConfig(Marshal(%+v)) = %+v, %v", *c, c2, err)
		}
	})
}

func FuzzADTS(f *testing.F) {
	for _, c := range configCases {
		if fr, err := AppendADTS(nil, c.want, []byte{1, 2, 3, 4}); err == nil {
			f.Add(fr)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, rest, err := ParseADTS(b)
		if err != nil {
			return
		}
		if len(payload)+h.HeaderLength+len(rest) != len(b) {
			t.Fatalf("lengths: payload %d header %d rest %d of %d", len(payload), h.HeaderLength, len(rest), len(b))
		}
		if h.ObjectType > 4 {
			return
		}
		fr, err := AppendADTS(nil, h.Config, payload)
		if err != nil {
			t.Fatalf("AppendADTS of a parsed header %+v: %v", h, err)
		}
		h2, p2, _, err := ParseADTS(fr)
		if err != nil || h2.Config != h.Config || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip: %+v %v", h2, err)
		}
		SplitADTS(b) // must not panic
	})
}

func BenchmarkAppendADTS(b *testing.B) {
	payload := make([]byte, 380)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendADTS(buf[:0], Config{2, 48000, 2}, payload)
	}
}
