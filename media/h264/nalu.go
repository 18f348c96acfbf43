package h264

// NAL unit types (ITU-T H.264 Table 7-1) this project looks at.
const (
	NALTypeNonIDR = 1
	NALTypeIDR    = 5
	NALTypeSEI    = 6
	NALTypeSPS    = 7
	NALTypePPS    = 8
	NALTypeAUD    = 9
)

// MaxNALUnits bounds the NAL units of one access unit. Real encoders write a
// handful (AUD, SPS, PPS, SEI, a few slices); a hostile stream could declare
// thousands of empty ones to make us allocate.
const MaxNALUnits = 1024

// NALType is the nal_unit_type of a NAL unit (0 for an empty one).
func NALType(nal []byte) uint8 {
	if len(nal) == 0 {
		return 0
	}
	return nal[0] & 0x1f
}

// IsKeyframe reports whether an access unit holds an IDR slice.
func IsKeyframe(nals [][]byte) bool {
	for _, n := range nals {
		if NALType(n) == NALTypeIDR {
			return true
		}
	}
	return false
}

// HasAUD reports whether an access unit has an access unit delimiter.
func HasAUD(nals [][]byte) bool {
	for _, n := range nals {
		if NALType(n) == NALTypeAUD {
			return true
		}
	}
	return false
}
