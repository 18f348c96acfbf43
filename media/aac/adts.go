package aac

import "fmt"

// ADTS header sizes: 7 bytes, 9 with the CRC (protection_absent = 0).
const (
	adtsHeaderSize    = 7
	adtsHeaderSizeCRC = 9
	// MaxADTSFrameSize is the largest frame_length the 13-bit field holds.
	MaxADTSFrameSize = 1<<13 - 1
)

// ADTSHeader is a parsed ADTS header.
type ADTSHeader struct {
	Config
	// FrameLength is the whole frame: header, CRC and payload.
	FrameLength int
	// HeaderLength is 7, or 9 with a CRC.
	HeaderLength int
	// RawBlocks is number_of_raw_data_blocks_in_frame + 1 (almost always 1).
	RawBlocks int
}

// AppendADTS appends a 7-byte ADTS header (no CRC) for a raw AAC frame of
// config c, then the payload.
func AppendADTS(dst []byte, c Config, payload []byte) ([]byte, error) {
	fi, ok := SampleRateIndex(c.SampleRate)
	cc, ok2 := channelConfig(c.Channels)
	if !ok || !ok2 || c.ObjectType < 1 || c.ObjectType > 4 {
		return dst, fmt.Errorf("write ADTS header for %+v: %w", c, ErrUnsupported)
	}
	n := adtsHeaderSize + len(payload)
	if n > MaxADTSFrameSize {
		return dst, fmt.Errorf("write ADTS header: frame of %d bytes: %w", n, ErrUnsupported)
	}
	p := c.ObjectType - 1 // profile = object type - 1
	dst = append(dst,
		0xff,
		0xf1, // MPEG-4, layer 0, protection absent
		byte(p<<6|fi<<2|cc>>2),
		byte((cc&3)<<6|n>>11),
		byte(n>>3),
		byte((n&7)<<5|0x1f), // buffer fullness 0x7ff (VBR)
		0xfc,                // buffer fullness, one raw data block
	)
	return append(dst, payload...), nil
}

// ParseADTS parses the ADTS frame at the start of b and returns its header,
// its payload (raw AAC, after the header and CRC) and the bytes after it.
func ParseADTS(b []byte) (h ADTSHeader, payload, rest []byte, err error) {
	if len(b) < adtsHeaderSize {
		return h, nil, nil, fmt.Errorf("parse ADTS header: %w", ErrShort)
	}
	if b[0] != 0xff || b[1]&0xf0 != 0xf0 {
		return h, nil, nil, fmt.Errorf("parse ADTS header: %w", ErrSyncword)
	}
	if b[1]&0x06 != 0 {
		return h, nil, nil, fmt.Errorf("parse ADTS header: layer %d: %w", b[1]>>1&3, ErrInvalid)
	}
	h.HeaderLength = adtsHeaderSize
	if b[1]&1 == 0 {
		h.HeaderLength = adtsHeaderSizeCRC
	}
	h.ObjectType = int(b[2]>>6) + 1
	fi := int(b[2] >> 2 & 0xf)
	if fi >= len(sampleRates) {
		return h, nil, nil, fmt.Errorf("parse ADTS header: sample rate index %d: %w", fi, ErrInvalid)
	}
	h.SampleRate = sampleRates[fi]
	cc := int(b[2]&1)<<2 | int(b[3]>>6)
	if cc == 0 {
		return h, nil, nil, fmt.Errorf("parse ADTS header: channel configuration 0 (in-band PCE): %w", ErrUnsupported)
	}
	h.Channels = channelCounts[cc]
	h.FrameLength = int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5]>>5)
	h.RawBlocks = int(b[6]&3) + 1
	if h.FrameLength < h.HeaderLength {
		return h, nil, nil, fmt.Errorf("parse ADTS header: frame length %d: %w", h.FrameLength, ErrInvalid)
	}
	if h.FrameLength > len(b) {
		return h, nil, nil, fmt.Errorf("parse ADTS frame of %d bytes from %d: %w", h.FrameLength, len(b), ErrShort)
	}
	return h, b[h.HeaderLength:h.FrameLength], b[h.FrameLength:], nil
}

// SplitADTS splits a run of ADTS frames into raw payloads and returns the
// configuration of the first frame. Every frame must have the same config.
func SplitADTS(b []byte) ([][]byte, *Config, error) {
	var out [][]byte
	var cfg *Config
	for len(b) > 0 {
		h, payload, rest, err := ParseADTS(b)
		if err != nil {
			return nil, nil, err
		}
		if cfg == nil {
			c := h.Config
			cfg = &c
		} else if *cfg != h.Config {
			return nil, nil, fmt.Errorf("split ADTS: config changes from %+v to %+v: %w", *cfg, h.Config, ErrInvalid)
		}
		out = append(out, payload)
		b = rest
	}
	if cfg == nil {
		return nil, nil, fmt.Errorf("split ADTS: %w", ErrShort)
	}
	return out, cfg, nil
}
