package h264

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// spsCases are real parameter sets written by x264 through the ffmpeg CLI
// (`-c:v libx264 -profile:v P -f h264`); they drive ParseSPS, the avcC and
// framing round trips, and the fuzz seeds.
var spsCases = []struct {
	name  string
	sps   []byte
	pps   []byte
	want  SPS
	codec string
}{
	{"x264 main 1280x720 30 fps", unhex("674d401feca02802dd8088000003000800000301e078c18cb0"), unhex("68ebe3cb20"),
		SPS{ProfileIDC: 77, ConstraintFlags: 0x40, LevelIDC: 31, Width: 1280, Height: 720, FrameRate: 30}, "avc1.4d401f"},
	{"x264 high 1920x1080 (cropped from 1088) 25 fps", unhex("67640028acd940780227e5c044000003000400000300c83c60c658"), unhex("68ebe3cb22c0"),
		SPS{ProfileIDC: 100, LevelIDC: 40, Width: 1920, Height: 1080, FrameRate: 25}, "avc1.640028"},
	{"x264 main 842x474 24 fps", unhex("674d401eeca06a1ef24980880000030008000003018078b16cb0"), unhex("68ebe3cb20"),
		SPS{ProfileIDC: 77, ConstraintFlags: 0x40, LevelIDC: 30, Width: 842, Height: 474, FrameRate: 24}, "avc1.4d401e"},
	{"x264 constrained baseline 320x240 30 fps", unhex("6742c00dd90141fb0110000003001000000303c0f142a480"), unhex("68cb83cb20"),
		SPS{ProfileIDC: 66, ConstraintFlags: 0xc0, LevelIDC: 13, Width: 320, Height: 240, FrameRate: 30}, "avc1.42c00d"},
	{"x264 high 1280x720 from an FLV avcC", unhex("6764001facd9405005bb0110000003001000000303c0f1831960"), unhex("68ebe3cb22c0"),
		SPS{ProfileIDC: 100, LevelIDC: 31, Width: 1280, Height: 720, FrameRate: 30}, "avc1.64001f"},
}

func TestParseSPS(t *testing.T) {
	for _, c := range spsCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSPS(c.sps)
			if err != nil {
				t.Fatal(err)
			}
			if *got != c.want {
				t.Errorf("ParseSPS = %+v, want %+v", *got, c.want)
			}
			if s := got.CodecString(); s != c.codec {
				t.Errorf("CodecString = %s, want %s", s, c.codec)
			}
		})
	}
}

func TestParseSPSErrors(t *testing.T) {
	good := spsCases[0].sps
	for name, b := range map[string][]byte{
		"empty":          nil,
		"not an SPS":     append([]byte{0x68}, good[1:]...),
		"cut short":      good[:6],
		"huge width":     unhex("674d401f" + "80" + "0000000001"),
		"crop whole pic": unhex("6742c00dd90141fb0110000003001000000303c0f142a4ff"),
	} {
		if s, err := ParseSPS(b); err == nil && name != "crop whole pic" {
			t.Errorf("%s: ParseSPS = %+v, want an error", name, s)
		}
	}
}

// TestAVCConfig parses ffmpeg's avcC (from an FLV sequence header) and
// round-trips every case through Marshal.
func TestAVCConfig(t *testing.T) {
	rec := unhex("0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000668ebe3cb22c0fdf8f800")
	c, err := ParseAVCConfig(rec)
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != 100 || c.Level != 31 || c.LengthSize != 4 || len(c.SPS) != 1 || len(c.PPS) != 1 ||
		!bytes.Equal(c.SPS[0], spsCases[4].sps) || !bytes.Equal(c.PPS[0], spsCases[4].pps) {
		t.Fatalf("ParseAVCConfig = %+v", c)
	}
	for _, sc := range spsCases {
		c := &AVCConfig{Profile: sc.sps[1], ProfileCompat: sc.sps[2], Level: sc.sps[3], LengthSize: 4, SPS: [][]byte{sc.sps}, PPS: [][]byte{sc.pps}}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseAVCConfig(b)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Errorf("%s: round trip %+v, %v", sc.name, c2, err)
		}
	}
	for _, bad := range [][]byte{nil, rec[:6], rec[:20], append([]byte{2}, rec[1:]...)} {
		if _, err := ParseAVCConfig(bad); err == nil {
			t.Errorf("ParseAVCConfig(% x): no error", bad)
		}
	}
}

func TestFraming(t *testing.T) {
	aud := []byte{0x09, 0xf0}
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01, 0x42}
	for _, sc := range spsCases {
		nals := [][]byte{aud, sc.sps, sc.pps, idr}
		annexB := AppendAnnexB(nil, nals...)
		got, err := SplitAnnexB(annexB)
		if err != nil || !reflect.DeepEqual(got, nals) {
			t.Fatalf("SplitAnnexB = %x, %v", got, err)
		}
		if !IsKeyframe(got) || !HasAUD(got) {
			t.Errorf("IsKeyframe/HasAUD false")
		}
		avcc := AppendAVCC(nil, nals...)
		back, err := AVCCToAnnexB(nil, avcc, 4)
		if err != nil || !bytes.Equal(back, annexB) {
			t.Errorf("AVCCToAnnexB = %x, %v", back, err)
		}
	}
	// 3-byte start codes and trailing zeros, as some encoders write them.
	got, err := SplitAnnexB([]byte{0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a, 0, 0, 1, 0x41, 0x9b, 0})
	if err != nil || len(got) != 3 || !bytes.Equal(got[1], []byte{0x41, 0x9a}) || !bytes.Equal(got[2], []byte{0x41, 0x9b}) {
		t.Errorf("SplitAnnexB with 3-byte codes = %x, %v", got, err)
	}
	for name, b := range map[string][]byte{"no start code": {1, 2, 3}, "only start codes": {0, 0, 1, 0, 0, 1}} {
		if _, err := SplitAnnexB(b); err == nil {
			t.Errorf("SplitAnnexB %s: no error", name)
		}
	}
	for name, b := range map[string][]byte{"zero length": {0, 0, 0, 0}, "overlong": {0, 0, 0, 9, 1}, "partial length": {0, 0}} {
		if _, err := SplitAVCC(b, 4); err == nil {
			t.Errorf("SplitAVCC %s: no error", name)
		}
	}
	if _, err := SplitAVCC([]byte{1, 5}, 3); err == nil {
		t.Error("SplitAVCC accepted length size 3")
	}
	many := bytes.Repeat([]byte{0, 1, 0x09}, MaxNALUnits+1)
	if _, err := SplitAVCC(many, 2); err == nil {
		t.Error("SplitAVCC accepted more than MaxNALUnits")
	}
}

func TestRemoveEmulationPrevention(t *testing.T) {
	for in, want := range map[string]string{
		"000003010000030200": "00000100000200",
		"0102":               "0102",
		"00000300000300":     "0000000000",
	} {
		if got := hex.EncodeToString(RemoveEmulationPrevention(unhex(in))); got != want {
			t.Errorf("RemoveEmulationPrevention(%s) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseSPS(f *testing.F) {
	for _, c := range spsCases {
		f.Add(c.sps)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSPS(b)
		if err != nil {
			return
		}
		if s.Width <= 0 || s.Height <= 0 || s.Width > 16*maxPicSizeInMbs || s.Height > 16*maxPicSizeInMbs {
			t.Fatalf("ParseSPS accepted size %dx%d", s.Width, s.Height)
		}
		if len(s.CodecString()) != len("avc1.000000") {
			t.Fatalf("CodecString %q", s.CodecString())
		}
	})
}

func FuzzParseAVCConfig(f *testing.F) {
	f.Add(unhex("0164001fffe1001a6764001facd9405005bb0110000003001000000303c0f183196001000668ebe3cb22c0fdf8f800"))
	for _, c := range spsCases {
		b, _ := (&AVCConfig{Profile: c.sps[1], Level: c.sps[3], LengthSize: 4, SPS: [][]byte{c.sps}, PPS: [][]byte{c.pps}}).Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseAVCConfig(b)
		if err != nil {
			return
		}
		m, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed record: %v", err)
		}
		c2, err := ParseAVCConfig(m)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("ParseAVCConfig(Marshal(c)) = %+v, %v; want %+v", c2, err, c)
		}
	})
}

func FuzzAVCC(f *testing.F) {
	for _, c := range spsCases {
		f.Add(AppendAVCC(nil, []byte{0x09, 0xf0}, c.sps, c.pps), 4)
		f.Add(AppendAnnexB(nil, c.sps, c.pps), 2)
	}
	f.Fuzz(func(t *testing.T, b []byte, lengthSize int) {
		nals, err := SplitAVCC(b, lengthSize)
		if err != nil {
			return
		}
		// AVCC → Annex B → split gives the same units, except that Annex B
		// cannot carry trailing zero bytes or units that contain a start code.
		annexB := AppendAnnexB(nil, nals...)
		back, err := SplitAnnexB(annexB)
		if err != nil {
			return
		}
		clean := true
		for _, n := range nals {
			if n[len(n)-1] == 0 || bytes.Contains(n, []byte{0, 0, 1}) || bytes.Contains(n, []byte{0, 0, 0}) {
				clean = false
			}
		}
		if clean && !reflect.DeepEqual(back, nals) {
			t.Fatalf("round trip: %x != %x", back, nals)
		}
		if !bytes.Equal(AppendAVCC(nil, nals...), normalizeAVCC(nals)) {
			t.Fatal("AppendAVCC is not deterministic")
		}
	})
}

func normalizeAVCC(nals [][]byte) []byte { return AppendAVCC(nil, nals...) }

func FuzzSplitAnnexB(f *testing.F) {
	for _, c := range spsCases {
		f.Add(AppendAnnexB(nil, []byte{0x09, 0xf0}, c.sps, c.pps))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nals, err := SplitAnnexB(b)
		if err != nil {
			return
		}
		for _, n := range nals {
			if len(n) == 0 || bytes.Contains(n, []byte{0, 0, 1}) {
				t.Fatalf("SplitAnnexB returned a unit with a start code or empty: %x", n)
			}
		}
		again, err := SplitAnnexB(AppendAnnexB(nil, nals...))
		if err != nil || !reflect.DeepEqual(again, nals) {
			t.Fatalf("split(join(split(b))) != split(b): %x vs %x", again, nals)
		}
	})
}

func BenchmarkAVCCToAnnexB(b *testing.B) {
	au := AppendAVCC(nil, []byte{0x09, 0xf0}, spsCases[0].sps, spsCases[0].pps, bytes.Repeat([]byte{0x65, 0x88}, 20000))
	dst := make([]byte, 0, len(au)+64)
	b.ReportAllocs()
	b.SetBytes(int64(len(au)))
	for b.Loop() {
		dst, _ = AVCCToAnnexB(dst[:0], au, 4)
	}
}

// TestParseSPSFieldHeightOverflow is the input the fuzzer found: interlaced
// coding with 2^31 map units, whose doubled height wrapped to zero in 32 bits.
func TestParseSPSFieldHeightOverflow(t *testing.T) {
	w := &bitWriter{}
	w.bits(0x67, 8) // NAL header: SPS
	w.bits(66, 8)   // profile_idc baseline
	w.bits(0, 8)    // constraint flags
	w.bits(30, 8)   // level_idc
	w.ue(0)         // seq_parameter_set_id
	w.ue(0)         // log2_max_frame_num_minus4
	w.ue(2)         // pic_order_cnt_type
	w.ue(1)         // max_num_ref_frames
	w.bits(0, 1)    // gaps_in_frame_num_value_allowed_flag
	w.ue(0)         // pic_width_in_mbs_minus1
	w.ue(1<<31 - 1) // pic_height_in_map_units_minus1
	w.bits(0, 1)    // frame_mbs_only_flag: field coding doubles the height
	w.bits(0, 1)    // mb_adaptive_frame_field_flag
	w.bits(1, 1)    // direct_8x8_inference_flag
	w.bits(0, 1)    // frame_cropping_flag
	w.bits(0, 1)    // vui_parameters_present_flag
	w.bits(1, 1)    // rbsp_stop_one_bit
	if s, err := ParseSPS(w.bytes()); err == nil {
		t.Fatalf("ParseSPS accepted %dx%d", s.Width, s.Height)
	}
}

type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) bits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

func (w *bitWriter) ue(v uint64) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

func (w *bitWriter) bytes() []byte { return w.buf }
