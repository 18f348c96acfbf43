package h264

import "fmt"

// AVCConfig is an AVCDecoderConfigurationRecord (the "avcC" box, and the
// payload of an RTMP AVC sequence header).
type AVCConfig struct {
	Profile, ProfileCompat, Level uint8
	// LengthSize is the size of the NAL unit lengths in samples: 1, 2 or 4.
	LengthSize int
	SPS, PPS   [][]byte
}

// ParseAVCConfig parses an avcC record. The optional fields high profiles
// append (chroma format, bit depths, SPS extensions) are ignored.
func ParseAVCConfig(b []byte) (*AVCConfig, error) {
	if len(b) < 7 {
		return nil, fmt.Errorf("parse avcC: %d bytes: %w", len(b), ErrShort)
	}
	if b[0] != 1 {
		return nil, fmt.Errorf("parse avcC: version %d: %w", b[0], ErrInvalid)
	}
	c := &AVCConfig{Profile: b[1], ProfileCompat: b[2], Level: b[3], LengthSize: int(b[4]&3) + 1}
	if c.LengthSize == 3 {
		return nil, fmt.Errorf("parse avcC: length size 3: %w", ErrInvalid)
	}
	rest := b[5:]
	var err error
	if c.SPS, rest, err = parseParamSets(rest, int(rest[0]&0x1f), 1); err != nil {
		return nil, fmt.Errorf("parse avcC SPS: %w", err)
	}
	if len(rest) < 1 {
		return nil, fmt.Errorf("parse avcC: no PPS count: %w", ErrShort)
	}
	if c.PPS, _, err = parseParamSets(rest, int(rest[0]), 1); err != nil {
		return nil, fmt.Errorf("parse avcC PPS: %w", err)
	}
	if len(c.SPS) == 0 {
		return nil, fmt.Errorf("parse avcC: no SPS: %w", ErrInvalid)
	}
	return c, nil
}

// parseParamSets reads count 16-bit-length-prefixed parameter sets after
// skip bytes.
func parseParamSets(b []byte, count, skip int) ([][]byte, []byte, error) {
	b = b[skip:]
	var out [][]byte
	for range count {
		if len(b) < 2 {
			return nil, nil, ErrShort
		}
		n := int(b[0])<<8 | int(b[1])
		if n == 0 || n > len(b)-2 {
			return nil, nil, fmt.Errorf("parameter set of %d bytes, %d left: %w", n, len(b)-2, ErrShort)
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, b, nil
}

// Marshal writes the record. It panics on nothing; counts beyond what the
// record can hold (31 SPS, 255 PPS, 65535-byte sets) are an error.
func (c *AVCConfig) Marshal() ([]byte, error) {
	if len(c.SPS) > 31 || len(c.PPS) > 255 || (c.LengthSize != 1 && c.LengthSize != 2 && c.LengthSize != 4) {
		return nil, fmt.Errorf("write avcC: %d SPS, %d PPS, length size %d: %w", len(c.SPS), len(c.PPS), c.LengthSize, ErrInvalid)
	}
	b := []byte{1, c.Profile, c.ProfileCompat, c.Level, 0xfc | byte(c.LengthSize-1), 0xe0 | byte(len(c.SPS))}
	for _, s := range c.SPS {
		if len(s) == 0 || len(s) > 0xffff {
			return nil, fmt.Errorf("write avcC: SPS of %d bytes: %w", len(s), ErrInvalid)
		}
		b = append(b, byte(len(s)>>8), byte(len(s)))
		b = append(b, s...)
	}
	b = append(b, byte(len(c.PPS)))
	for _, p := range c.PPS {
		if len(p) == 0 || len(p) > 0xffff {
			return nil, fmt.Errorf("write avcC: PPS of %d bytes: %w", len(p), ErrInvalid)
		}
		b = append(b, byte(len(p)>>8), byte(len(p)))
		b = append(b, p...)
	}
	return b, nil
}
