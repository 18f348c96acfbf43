package mpa

import (
	"errors"
	"testing"
)

// headerCases drive TestParseHeader and seed FuzzSplitFrame: headers the
// ffmpeg CLI's mp2 and libmp3lame encoders wrote, and broken ones.
var headerCases = []struct {
	name string
	b    []byte
	want Header
	err  error
}{
	{"mp2 48k stereo 384k", []byte{0xff, 0xfd, 0xe4, 0x04}, Header{Version: 1, Layer: 2, Bitrate: 384000, SampleRate: 48000, Channels: 2, FrameLength: 1152, Samples: 1152}, nil},
	{"mp3 48k stereo 128k", []byte{0xff, 0xfb, 0x94, 0x44}, Header{Version: 1, Layer: 3, Bitrate: 128000, SampleRate: 48000, Channels: 2, FrameLength: 384, Samples: 1152}, nil},
	{"mp3 44.1k mono 64k padded", []byte{0xff, 0xfb, 0x52, 0xc4}, Header{Version: 1, Layer: 3, Bitrate: 64000, SampleRate: 44100, Channels: 1, FrameLength: 209, Samples: 1152}, nil},
	{"mp3 MPEG-2 24k 64k", []byte{0xff, 0xf3, 0x84, 0x44}, Header{Version: 2, Layer: 3, Bitrate: 64000, SampleRate: 24000, Channels: 2, FrameLength: 192, Samples: 576}, nil},
	{"no sync", []byte{0xfe, 0xfb, 0x94, 0x44}, Header{}, ErrInvalid},
	{"reserved version", []byte{0xff, 0xeb, 0x94, 0x44}, Header{}, ErrInvalid},
	{"reserved layer", []byte{0xff, 0xf9, 0x94, 0x44}, Header{}, ErrInvalid},
	{"bad bitrate", []byte{0xff, 0xfb, 0xf4, 0x44}, Header{}, ErrInvalid},
	{"free format", []byte{0xff, 0xfb, 0x04, 0x44}, Header{}, ErrFreeFormat},
	{"short", []byte{0xff, 0xfb, 0x94}, Header{}, ErrShort},
}

func TestParseHeader(t *testing.T) {
	for _, c := range headerCases {
		h, err := ParseHeader(c.b)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || h != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, h, err, c.want)
		}
	}
}

func TestSplitFrame(t *testing.T) {
	b := make([]byte, 384+10)
	copy(b, []byte{0xff, 0xfb, 0x94, 0x44})
	h, frame, rest, err := SplitFrame(b)
	if err != nil || len(frame) != 384 || len(rest) != 10 || h.Layer != 3 {
		t.Errorf("split: %+v, %d, %d, %v", h, len(frame), len(rest), err)
	}
	if _, _, _, err := SplitFrame(b[:383]); !errors.Is(err, ErrShort) {
		t.Errorf("a cut frame: %v, want ErrShort", err)
	}
}

// FuzzSplitFrame: any input splits into a whole frame of at least a header
// within the input, or fails.
func FuzzSplitFrame(f *testing.F) {
	for _, c := range headerCases {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, frame, rest, err := SplitFrame(b)
		if err != nil {
			return
		}
		if len(frame) < headerSize || len(frame)+len(rest) != len(b) || h.SampleRate <= 0 || h.Samples <= 0 {
			t.Fatalf("%+v: frame %d, rest %d of %d", h, len(frame), len(rest), len(b))
		}
	})
}
