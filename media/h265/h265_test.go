package h265

import (
	"encoding/hex"
	"errors"
	"testing"
)

// spsCases are SPS NAL units x265 wrote (ffmpeg -c:v libx265), with the
// size they declare; they also seed the fuzzer.
var spsCases = []struct {
	name          string
	hex           string
	width, height int
}{
	// 1920×1080 is coded as 1920×1088 with an 8-line conformance window.
	{"1080p", "420101016000000300900000030000030078a003c08010e596566924caf0168080000003008000000f04", 1920, 1080},
	{"360p", "42010101600000030090000003000003003fa00502016965959a4932bc05a020000003002000000303c1", 640, 360},
}

func TestParseSPS(t *testing.T) {
	for _, c := range spsCases {
		t.Run(c.name, func(t *testing.T) {
			nal, _ := hex.DecodeString(c.hex)
			s, err := ParseSPS(nal)
			if err != nil {
				t.Fatal(err)
			}
			if s.Width != c.width || s.Height != c.height || s.ChromaFormat != 1 || s.ProfileIDC != 1 {
				t.Errorf("got %+v, want %d×%d 4:2:0 Main", s, c.width, c.height)
			}
			// The parse stops at the conformance window: a truncated SPS
			// fails, or gives the same size when what is cut lies after.
			for n := range nal {
				if s2, err := ParseSPS(nal[:n]); err == nil && (s2.Width != c.width || s2.Height != c.height) {
					t.Errorf("truncated to %d bytes: %+v", n, s2)
				} else if err != nil && n >= 24 {
					t.Errorf("truncated to %d bytes, after the window: %v", n, err)
				}
			}
		})
	}
	if _, err := ParseSPS([]byte{0x40, 0x01, 0x0c}); !errors.Is(err, ErrInvalid) { // a VPS
		t.Errorf("VPS as SPS: %v, want ErrInvalid", err)
	}
}

func TestNALTypes(t *testing.T) {
	for _, c := range []struct {
		nal   []byte
		typ   uint8
		irap  bool
		param bool
	}{
		{[]byte{0x40, 0x01}, NALTypeVPS, false, true},
		{[]byte{0x42, 0x01}, NALTypeSPS, false, true},
		{[]byte{0x44, 0x01}, NALTypePPS, false, true},
		{[]byte{0x26, 0x01}, NALTypeIDRWRADL, true, false},
		{[]byte{0x28, 0x01}, NALTypeIDRNLP, true, false},
		{[]byte{0x2a, 0x01}, NALTypeCRA, true, false},
		{[]byte{0x02, 0x01}, 1, false, false},  // TRAIL_R
		{[]byte{0x4e, 0x01}, 39, false, false}, // prefix SEI
		{[]byte{0x26}, 0, false, false},        // no whole header
	} {
		if got := NALType(c.nal); got != c.typ {
			t.Errorf("NALType(%x) = %d, want %d", c.nal, got, c.typ)
		}
		if IsIRAP(c.nal) != c.irap || IsParameterSet(c.nal) != c.param {
			t.Errorf("%x: IRAP %v, parameter set %v; want %v, %v", c.nal, IsIRAP(c.nal), IsParameterSet(c.nal), c.irap, c.param)
		}
	}
	if !IsKeyframe([][]byte{{0x40, 0x01}, {0x2a, 0x01}}) || IsKeyframe([][]byte{{0x02, 0x01}}) {
		t.Error("IsKeyframe")
	}
}

// FuzzParseSPS: any input either fails or gives a size within the
// standard's bounds.
func FuzzParseSPS(f *testing.F) {
	for _, c := range spsCases {
		nal, _ := hex.DecodeString(c.hex)
		f.Add(nal)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			return
		}
		if s.Width <= 0 || s.Height <= 0 || s.Width > maxPicSize || s.Height > maxPicSize {
			t.Fatalf("size %d×%d", s.Width, s.Height)
		}
	})
}
