package h265

// NAL unit types (ITU-T H.265 Table 7-1) this project looks at.
const (
	NALTypeBLAWLP   = 16 // first of the IRAP types (16–23)
	NALTypeIDRWRADL = 19
	NALTypeIDRNLP   = 20
	NALTypeCRA      = 21
	NALTypeRSVIRAP  = 23 // last of the IRAP types
	NALTypeVPS      = 32
	NALTypeSPS      = 33
	NALTypePPS      = 34
	NALTypeAUD      = 35
)

// NALType is the nal_unit_type of a NAL unit: bits 1–6 of its two-byte
// header (0 for one too short to have a header).
func NALType(nal []byte) uint8 {
	if len(nal) < 2 {
		return 0
	}
	return nal[0] >> 1 & 0x3f
}

// IsIRAP reports whether a NAL unit is a slice of an intra random access
// point picture (BLA, IDR or CRA): a decoder can start there. FFmpeg
// drops the RASL pictures that follow a CRA it starts at, as the standard
// says, so a CRA is as good a start as an IDR.
func IsIRAP(nal []byte) bool {
	t := NALType(nal)
	return t >= NALTypeBLAWLP && t <= NALTypeRSVIRAP
}

// IsKeyframe reports whether an access unit holds an IRAP slice.
func IsKeyframe(nals [][]byte) bool {
	for _, n := range nals {
		if IsIRAP(n) {
			return true
		}
	}
	return false
}

// IsParameterSet reports whether a NAL unit is a VPS, an SPS or a PPS.
func IsParameterSet(nal []byte) bool {
	t := NALType(nal)
	return t == NALTypeVPS || t == NALTypeSPS || t == NALTypePPS
}
