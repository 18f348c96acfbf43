package mpa

import (
	"errors"
	"fmt"
)

var (
	// ErrShort is returned when the input ends inside a header or frame.
	ErrShort = errors.New("mpa: input too short")
	// ErrInvalid is returned for a header that is not one: no frame sync,
	// a reserved version, layer, bitrate or rate.
	ErrInvalid = errors.New("mpa: invalid frame header")
	// ErrFreeFormat is returned for a free-format frame (bitrate index 0),
	// whose length the header does not give.
	ErrFreeFormat = errors.New("mpa: free-format frame")
)

const headerSize = 4

// Header is a parsed MPEG audio frame header.
type Header struct {
	// Version is 1 (MPEG-1), 2 (MPEG-2 LSF) or 25 (MPEG-2.5).
	Version int
	// Layer is 1, 2 or 3.
	Layer      int
	Bitrate    int // bits per second
	SampleRate int
	Channels   int
	// FrameLength is the whole frame in bytes, header included.
	FrameLength int
	// Samples is the samples per channel of the frame.
	Samples int
}

// bitrates in kb/s by [MPEG-1?][layer-1][index]; index 0 is free format
// and 15 is reserved.
var bitrates = [2][3][15]int{
	{ // MPEG-2 and 2.5
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	},
	{ // MPEG-1
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	},
}

// rates are MPEG-1's sampling frequencies; MPEG-2 halves them and MPEG-2.5
// quarters them.
var rates = [3]int{44100, 48000, 32000}

// ParseHeader parses the frame header at the start of b.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < headerSize {
		return h, fmt.Errorf("parse MPEG audio header: %w", ErrShort)
	}
	if b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return h, fmt.Errorf("parse MPEG audio header: no frame sync: %w", ErrInvalid)
	}
	version, layer := b[1]>>3&3, b[1]>>1&3
	bitrate, rate, padding := int(b[2]>>4), int(b[2]>>2&3), int(b[2]>>1&1)
	if version == 1 || layer == 0 || bitrate == 15 || rate == 3 {
		return h, fmt.Errorf("parse MPEG audio header %x: %w", b[:4], ErrInvalid)
	}
	h.Layer = 4 - int(layer)
	mpeg1 := 0
	switch version {
	case 3:
		h.Version, mpeg1 = 1, 1
		h.SampleRate = rates[rate]
	case 2:
		h.Version = 2
		h.SampleRate = rates[rate] / 2
	case 0:
		h.Version = 25
		h.SampleRate = rates[rate] / 4
	}
	h.Channels = 2
	if b[3]>>6 == 3 {
		h.Channels = 1
	}
	if bitrate == 0 {
		return h, fmt.Errorf("parse MPEG audio header: %w", ErrFreeFormat)
	}
	h.Bitrate = bitrates[mpeg1][h.Layer-1][bitrate] * 1000
	switch {
	case h.Layer == 1:
		h.Samples = 384
		h.FrameLength = (12*h.Bitrate/h.SampleRate + padding) * 4
	case h.Layer == 2 || mpeg1 == 1:
		h.Samples = 1152
		h.FrameLength = 144*h.Bitrate/h.SampleRate + padding
	default: // layer III of MPEG-2 and 2.5
		h.Samples = 576
		h.FrameLength = 72*h.Bitrate/h.SampleRate + padding
	}
	return h, nil
}

// SplitFrame returns the header of the frame at the start of b, the frame
// (header included) and the bytes after it.
func SplitFrame(b []byte) (h Header, frame, rest []byte, err error) {
	if h, err = ParseHeader(b); err != nil {
		return h, nil, nil, err
	}
	if h.FrameLength > len(b) {
		return h, nil, nil, fmt.Errorf("MPEG audio frame of %d bytes from %d: %w", h.FrameLength, len(b), ErrShort)
	}
	return h, b[:h.FrameLength], b[h.FrameLength:], nil
}
