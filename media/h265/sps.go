package h265

import (
	"fmt"
	"github.com/livestream/livestream/media/bits"

	"github.com/livestream/livestream/media/h264"
)

// maxPicSize bounds the coded width and height an SPS may declare: level
// 6.2 allows 8192×4320 and no encoder we take goes near 16384.
const maxPicSize = 16384

// SPS holds the fields of a sequence parameter set the pipeline needs.
type SPS struct {
	ProfileIDC uint8
	LevelIDC   uint8
	// ChromaFormat is chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
	ChromaFormat int
	// Width and Height are the displayed size, after the conformance window.
	Width, Height int
}

// ParseSPS parses a sequence parameter set NAL unit (its two-byte header
// included), up to the conformance window: the VUI (and its frame rate)
// lies behind fields not worth parsing here, so the frame rate of an HEVC
// stream is measured from its timestamps.
func ParseSPS(nal []byte) (*SPS, error) {
	if len(nal) < 3 {
		return nil, fmt.Errorf("parse HEVC SPS: %d bytes: %w", len(nal), ErrShort)
	}
	if NALType(nal) != NALTypeSPS {
		return nil, fmt.Errorf("parse HEVC SPS: NAL unit type %d: %w", NALType(nal), ErrInvalid)
	}
	r := bits.NewReader(h264.RemoveEmulationPrevention(nal[2:]))
	r.Skip(4) // sps_video_parameter_set_id
	maxSubLayersMinus1 := int(r.U(3))
	r.Skip(1) // sps_temporal_id_nesting_flag
	s := &SPS{}
	// profile_tier_level(1, sps_max_sub_layers_minus1)
	r.Skip(2 + 1) // general_profile_space, general_tier_flag
	s.ProfileIDC = uint8(r.U(5))
	r.Skip(32 + 4 + 43 + 1) // compatibility flags, source flags, constraint bits
	s.LevelIDC = uint8(r.U(8))
	var profilePresent, levelPresent [8]bool
	for i := range maxSubLayersMinus1 {
		profilePresent[i] = r.Flag()
		levelPresent[i] = r.Flag()
	}
	if maxSubLayersMinus1 > 0 {
		r.Skip(2 * (8 - maxSubLayersMinus1)) // reserved_zero_2bits
	}
	for i := range maxSubLayersMinus1 {
		if profilePresent[i] {
			r.Skip(88)
		}
		if levelPresent[i] {
			r.Skip(8)
		}
	}
	r.UE() // sps_seq_parameter_set_id
	chroma := r.UE()
	if chroma > 3 {
		return nil, fmt.Errorf("parse HEVC SPS: chroma_format_idc %d: %w", chroma, ErrInvalid)
	}
	separatePlanes := chroma == 3 && r.Flag()
	s.ChromaFormat = int(chroma)
	w, h := r.UE(), r.UE()
	var left, right, top, bottom uint32
	if r.Flag() { // conformance_window_flag
		left, right, top, bottom = r.UE(), r.UE(), r.UE(), r.UE()
	}
	if r.Err() {
		return nil, fmt.Errorf("parse HEVC SPS: %w", ErrShort)
	}
	if w == 0 || h == 0 || w > maxPicSize || h > maxPicSize {
		return nil, fmt.Errorf("parse HEVC SPS: picture of %d×%d: %w", w, h, ErrInvalid)
	}
	// The window is in chroma samples (Table 6-1's SubWidthC, SubHeightC).
	subW, subH := uint64(1), uint64(1)
	if !separatePlanes && (chroma == 1 || chroma == 2) {
		subW = 2
	}
	if !separatePlanes && chroma == 1 {
		subH = 2
	}
	cropW, cropH := subW*(uint64(left)+uint64(right)), subH*(uint64(top)+uint64(bottom))
	if cropW >= uint64(w) || cropH >= uint64(h) {
		return nil, fmt.Errorf("parse HEVC SPS: conformance window %d,%d,%d,%d of %d×%d: %w", left, right, top, bottom, w, h, ErrInvalid)
	}
	s.Width, s.Height = int(uint64(w)-cropW), int(uint64(h)-cropH)
	return s, nil
}
