package h264

import (
	"fmt"

	"github.com/livestream/livestream/media/bits"
)

// Limits on what an SPS may declare, from the standard's level limits with
// room to spare: a picture is at most 8192×8192 (level 6.2 allows 139264
// macroblocks, about 8192×4320), which bounds every size we compute.
const (
	maxPicSizeInMbs = 512 // per dimension: 8192 pixels
)

// SPS holds the fields of a sequence parameter set that playlists and
// players need.
type SPS struct {
	ProfileIDC      uint8
	ConstraintFlags uint8 // constraint_set0_flag … reserved bits, as one byte
	LevelIDC        uint8
	// Width and Height are the displayed size, after cropping.
	Width, Height int
	// FrameRate comes from the VUI timing info (time_scale / (2 ×
	// num_units_in_tick)); 0 when absent.
	FrameRate float64
}

// ParseSPS parses a sequence parameter set NAL unit (its one-byte header
// included).
func ParseSPS(nal []byte) (*SPS, error) {
	if len(nal) < 4 {
		return nil, fmt.Errorf("parse SPS: %d bytes: %w", len(nal), ErrShort)
	}
	if NALType(nal) != NALTypeSPS {
		return nil, fmt.Errorf("parse SPS: NAL unit type %d: %w", NALType(nal), ErrInvalid)
	}
	s := &SPS{ProfileIDC: nal[1], ConstraintFlags: nal[2], LevelIDC: nal[3]}
	r := bits.NewReader(RemoveEmulationPrevention(nal[4:]))
	r.UE() // seq_parameter_set_id
	chromaFormat := uint32(1)
	separateColourPlane := false
	switch s.ProfileIDC {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chromaFormat = r.UE()
		if chromaFormat > 3 {
			return nil, fmt.Errorf("parse SPS: chroma_format_idc %d: %w", chromaFormat, ErrInvalid)
		}
		if chromaFormat == 3 {
			separateColourPlane = r.Flag()
		}
		r.UE()        // bit_depth_luma_minus8
		r.UE()        // bit_depth_chroma_minus8
		r.Flag()      // qpprime_y_zero_transform_bypass_flag
		if r.Flag() { // seq_scaling_matrix_present_flag
			n := 8
			if chromaFormat == 3 {
				n = 12
			}
			for i := range n {
				if r.Flag() {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(r, size)
				}
			}
		}
	}
	r.UE() // log2_max_frame_num_minus4
	switch pocType := r.UE(); pocType {
	case 0:
		r.UE() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.Flag() // delta_pic_order_always_zero_flag
		r.SE()   // offset_for_non_ref_pic
		r.SE()   // offset_for_top_to_bottom_field
		n := r.UE()
		if n > 255 {
			return nil, fmt.Errorf("parse SPS: %d ref frames in POC cycle: %w", n, ErrInvalid)
		}
		for range n {
			r.SE()
		}
	case 2:
	default:
		return nil, fmt.Errorf("parse SPS: pic_order_cnt_type %d: %w", pocType, ErrInvalid)
	}
	r.UE()   // max_num_ref_frames
	r.Flag() // gaps_in_frame_num_value_allowed_flag
	// Sizes are counted in uint64: a 32-bit count of map units doubled for
	// field coding can wrap to zero.
	wMbs := uint64(r.UE()) + 1
	hMapUnits := uint64(r.UE()) + 1
	frameMbsOnly := r.Flag()
	if !frameMbsOnly {
		r.Flag() // mb_adaptive_frame_field_flag
	}
	r.Flag() // direct_8x8_inference_flag
	if r.Err() {
		return nil, fmt.Errorf("parse SPS: %w", ErrShort)
	}
	hMbs := hMapUnits
	if !frameMbsOnly {
		hMbs *= 2
	}
	if wMbs > maxPicSizeInMbs || hMbs > maxPicSizeInMbs {
		return nil, fmt.Errorf("parse SPS: %d×%d macroblocks: %w", wMbs, hMbs, ErrInvalid)
	}
	w, h := int(wMbs)*16, int(hMbs)*16
	if r.Flag() { // frame_cropping_flag
		l, rt, t, b := r.UE(), r.UE(), r.UE(), r.UE()
		cropX, cropY := uint32(1), uint32(2)
		if frameMbsOnly {
			cropY = 1
		}
		if chromaFormat != 0 && !separateColourPlane {
			if chromaFormat == 1 || chromaFormat == 2 {
				cropX = 2
			}
			if chromaFormat == 1 {
				cropY *= 2
			}
		}
		cw, ch := int64(cropX)*(int64(l)+int64(rt)), int64(cropY)*(int64(t)+int64(b))
		if cw >= int64(w) || ch >= int64(h) {
			return nil, fmt.Errorf("parse SPS: cropping %d×%d of %d×%d: %w", cw, ch, w, h, ErrInvalid)
		}
		w, h = w-int(cw), h-int(ch)
	}
	if r.Err() {
		return nil, fmt.Errorf("parse SPS: %w", ErrShort)
	}
	s.Width, s.Height = w, h
	if r.Flag() { // vui_parameters_present_flag
		s.FrameRate = parseVUITiming(r)
	}
	return s, nil
}

// parseVUITiming reads the VUI up to its timing info. A VUI cut short only
// loses the frame rate: the size is already known.
func parseVUITiming(r *bits.Reader) float64 {
	if r.Flag() { // aspect_ratio_info_present_flag
		if r.U(8) == 255 { // Extended_SAR
			r.U(32)
		}
	}
	if r.Flag() { // overscan_info_present_flag
		r.Flag()
	}
	if r.Flag() { // video_signal_type_present_flag
		r.U(4)
		if r.Flag() { // colour_description_present_flag
			r.U(24)
		}
	}
	if r.Flag() { // chroma_loc_info_present_flag
		r.UE()
		r.UE()
	}
	if !r.Flag() { // timing_info_present_flag
		return 0
	}
	units, scale := r.U(32), r.U(32)
	if r.Err() || units == 0 {
		return 0
	}
	return float64(scale) / float64(2*uint64(units))
}

func skipScalingList(r *bits.Reader, size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + r.SE() + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if r.Err() {
			return
		}
	}
}

// CodecString is the RFC 6381 codecs value, "avc1.PPCCLL".
func (s *SPS) CodecString() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", s.ProfileIDC, s.ConstraintFlags, s.LevelIDC)
}
