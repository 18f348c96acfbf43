package main

import (
	"encoding/hex"
	"reflect"
	"slices"
	"testing"

	"github.com/livestream/livestream/media"
)

// writeFLV is readFLV's inverse, for round trips: the sequence headers
// first, then the packets.
func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func writeFLV(f *flvFile) []byte {
	b := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	tag := func(typ byte, dts int64, body []byte) {
		ms := uint32(dts / (media.ClockRate / 1000))
		n := len(body)
		b = append(b, typ, byte(n>>16), byte(n>>8), byte(n), byte(ms>>16), byte(ms>>8), byte(ms), byte(ms>>24), 0, 0, 0)
		b = append(b, body...)
		size := uint32(11 + n)
		b = append(b, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	if f.avcC != nil {
		tag(flvTagVideo, 0, append([]byte{flvKeyframe<<4 | flvCodecAVC, flvAVCSeq, 0, 0, 0}, f.avcC...))
	}
	if f.asc != nil {
		tag(flvTagAudio, 0, append([]byte{0xaf, flvAACSeq}, f.asc...))
	}
	for _, p := range f.packets {
		switch p.Kind {
		case media.Video:
			ft := byte(2)
			if p.Keyframe {
				ft = flvKeyframe
			}
			cts := uint32((p.PTS - p.DTS) / (media.ClockRate / 1000))
			tag(flvTagVideo, p.DTS, append([]byte{ft<<4 | flvCodecAVC, flvAVCNALU, byte(cts >> 16), byte(cts >> 8), byte(cts)}, p.Data...))
		case media.Audio:
			tag(flvTagAudio, p.DTS, append([]byte{0xaf, flvAACRaw}, p.Data...))
		}
	}
	return b
}

// frameTicks is syntheticFLV's frame duration: 33 ms, which FLV's
// millisecond timestamps carry exactly.
const frameTicks = 33 * media.ClockRate / 1000

// syntheticFLV is a two-GOP stream with B-frames and audio, for fuzz seeds:
// x264's sequence header of a 320x240 30 fps stream, and AAC-LC 44.1 kHz
// stereo's.
func syntheticFLV() *flvFile {
	f := &flvFile{avcC: unhex("0164001effe100196764001eacd94141fb0110000003001000000303c0f162d96001000468efbcb0fdf8f800"),
		asc: unhex("1210")}
	for i := range 8 {
		dts := int64(i) * frameTicks
		f.packets = append(f.packets,
			&media.Packet{Kind: media.Video, DTS: dts, PTS: dts + int64(i%3)*frameTicks, Keyframe: i%4 == 0, Data: []byte{0, 0, 0, 1, byte(i)}},
			&media.Packet{Kind: media.Audio, DTS: dts + 90, PTS: dts + 90, Keyframe: true, Data: []byte{0x21, byte(i)}})
	}
	return f
}

func FuzzReadFLV(f *testing.F) {
	whole := writeFLV(syntheticFLV())
	f.Add(whole)
	f.Add(whole[:len(whole)-4]) // no last PreviousTagSize
	f.Add(whole[:len(whole)-7]) // a truncated tag
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09"))
	f.Add([]byte("FLV\x01\x05\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Add([]byte("not an flv"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readFLV(b)
		if err != nil {
			return
		}
		for _, p := range got.packets {
			if (p.Kind != media.Video && p.Kind != media.Audio) || p.DTS < 0 || len(p.Data) > len(b) {
				t.Fatalf("packet %+v from %d bytes", p, len(b))
			}
		}
		again, err := readFLV(writeFLV(got))
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip: %+v, want %+v", again, got)
		}
		// A source made of it loops without going back in time.
		s, err := newSource(got)
		if err != nil || !slices.IsSortedFunc(got.packets, func(a, b *media.Packet) int { return int(a.DTS - b.DTS) }) {
			return
		}
		c, prev := s.cursor(0), int64(0)
		for range 2*len(s.packets) + 1 {
			_, ts := c.next()
			if ts < prev {
				t.Fatalf("cursor went back from %d to %d", prev, ts)
			}
			prev = ts
		}
	})
}

func TestCursorLoops(t *testing.T) {
	f, err := readFLV(writeFLV(syntheticFLV()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, syntheticFLV()) {
		t.Fatalf("readFLV(writeFLV(x)) = %+v, want x", f)
	}
	s, err := newSource(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(7*frameTicks + 90 + frameTicks); s.period != want || !slices.Equal(s.keyframes, []int{0, 8}) {
		t.Fatalf("period %d, keyframes at %v; want %d, [0 8]", s.period, s.keyframes, want)
	}
	if v := s.video; v.Width != 320 || v.Height != 240 || v.FrameRate.Float() != 30 || s.audio.SampleRate != 44100 {
		t.Errorf("video %+v, audio %+v", v, s.audio)
	}
	c := s.cursor(1) // from the second keyframe, the 5th frame
	p, ts := c.next()
	if p.Kind != media.Video || !p.Keyframe || ts != 0 || p.DTS != 4*frameTicks {
		t.Fatalf("first packet %+v at %d: want the keyframe at DTS %d, time 0", p, ts, 4*frameTicks)
	}
	var last *media.Packet
	for range len(s.packets) {
		last, ts = c.next()
	}
	// A whole loop later: the same keyframe, one period on.
	if last.DTS != 4*frameTicks+s.period || ts != s.period || !last.Keyframe {
		t.Errorf("after a loop: %+v at %d; want the keyframe at DTS %d", last, ts, 4*frameTicks+s.period)
	}
	if s.packets[8].DTS != 4*frameTicks {
		t.Errorf("the cursor changed the source's packets: DTS %d", s.packets[8].DTS)
	}
}

func TestLoadSource(t *testing.T) {
	_, src := testSource(t)
	if src.video.Width != 320 || src.video.Height != 240 || src.video.FrameRate.Float() != 30 {
		t.Errorf("video %dx%d %g fps, want 320x240 30", src.video.Width, src.video.Height, src.video.FrameRate.Float())
	}
	if src.audio.SampleRate != 44100 || src.audio.Channels != 2 {
		t.Errorf("audio %d Hz %d ch, want 44100 2", src.audio.SampleRate, src.audio.Channels)
	}
	if len(src.keyframes) != 2 || src.seconds() < 4 || src.seconds() > 4.2 {
		t.Errorf("%d keyframes, %.3f s; want 2 (one per 2 s), 4 s", len(src.keyframes), src.seconds())
	}
}
