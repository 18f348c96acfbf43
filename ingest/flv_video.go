package ingest

import (
	"bytes"
	"fmt"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
	flvtag "github.com/yutopp/go-flv/tag"
)

// Enhanced RTMP (veovera's E-RTMP) video: the top bit of the first byte
// flags an extended header, the next three bits are the frame type, the low
// four the packet type, and a FourCC names the codec.
const (
	exHeaderFlag = 0x80

	exSequenceStart        = 0
	exCodedFrames          = 1
	exSequenceEnd          = 2
	exCodedFramesX         = 3 // coded frames with a composition time of 0
	exMetadata             = 4
	exMPEG2TSSequenceStart = 5
)

// flvCodecHEVC is the codec id 12 that Chinese CDNs' FLV extension gives
// H.265 before E-RTMP, and ffmpeg's and SRS's forks send.
const flvCodecHEVC = 12

// videoTrack is the state of the video track: its sequence header and what
// was read from it.
type videoTrack struct {
	avcC       []byte
	lengthSize int
	params     *media.VideoParams
}

// videoTag converts the body of an RTMP video message received at ts. It
// returns the frame it carries, or nil for a tag that carries none (a
// sequence header, an end of sequence, a video info frame). The packet owns
// a copy of the payload: body may be reused once videoTag returns.
func (d *tagDecoder) videoTag(ts uint32, body []byte) (*media.Packet, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("empty video tag: %w", errMalformedTag)
	}
	if body[0]&exHeaderFlag != 0 {
		return d.exVideoTag(ts, body)
	}
	frameType := flvtag.FrameType(body[0] >> 4)
	switch codec := flvtag.CodecID(body[0] & 0x0f); codec {
	case flvtag.CodecIDAVC:
	case flvCodecHEVC:
		return nil, fmt.Errorf("H.265/HEVC (FLV codec id 12): %w", ErrUnsupportedCodec)
	default:
		return nil, fmt.Errorf("%s (FLV video codec id %d): %w", videoCodecName(codec), codec, ErrUnsupportedCodec)
	}
	if frameType == flvtag.FrameTypeVideoInfoCommandFrame {
		return nil, nil // seek markers of a server-side player: no picture
	}
	r := bytes.NewReader(body)
	var v flvtag.VideoData
	if err := flvtag.DecodeVideoData(r, &v); err != nil {
		return nil, fmt.Errorf("AVC video tag of %d bytes: %w", len(body), errMalformedTag)
	}
	payload := body[len(body)-r.Len():]
	switch v.AVCPacketType {
	case flvtag.AVCPacketTypeSequenceHeader:
		return nil, d.video.setAVCConfig(payload)
	case flvtag.AVCPacketTypeNALU:
		return d.video.frame(&d.clock, ts, v.CompositionTime, frameType == flvtag.FrameTypeKeyFrame, payload)
	case flvtag.AVCPacketTypeEOS:
		return nil, nil
	}
	return nil, fmt.Errorf("AVC packet type %d: %w", v.AVCPacketType, errMalformedTag)
}

// exVideoTag converts an E-RTMP video tag: H.264 ("avc1") is accepted the
// way the legacy header carries it; every other FourCC is refused.
func (d *tagDecoder) exVideoTag(ts uint32, body []byte) (*media.Packet, error) {
	frameType := flvtag.FrameType(body[0] >> 4 & 0x07)
	packetType := body[0] & 0x0f
	if len(body) < 5 {
		return nil, fmt.Errorf("E-RTMP video tag of %d bytes: %w", len(body), errMalformedTag)
	}
	fourCC := body[1:5]
	switch string(fourCC) {
	case "avc1":
	case "hvc1":
		return nil, fmt.Errorf("H.265/HEVC (E-RTMP hvc1): %w", ErrUnsupportedCodec)
	case "av01":
		return nil, fmt.Errorf("AV1 (E-RTMP av01): %w", ErrUnsupportedCodec)
	case "vp09":
		return nil, fmt.Errorf("VP9 (E-RTMP vp09): %w", ErrUnsupportedCodec)
	default:
		return nil, fmt.Errorf("E-RTMP video FourCC %q: %w", printable(fourCC), ErrUnsupportedCodec)
	}
	if frameType == flvtag.FrameTypeVideoInfoCommandFrame && packetType != exMetadata {
		return nil, nil
	}
	payload := body[5:]
	switch packetType {
	case exSequenceStart:
		return nil, d.video.setAVCConfig(payload)
	case exCodedFrames:
		if len(payload) < 3 {
			return nil, fmt.Errorf("E-RTMP avc1 frame of %d bytes: %w", len(body), errMalformedTag)
		}
		cts := int32(uint32(payload[0])<<24|uint32(payload[1])<<16|uint32(payload[2])<<8) >> 8
		return d.video.frame(&d.clock, ts, cts, frameType == flvtag.FrameTypeKeyFrame, payload[3:])
	case exCodedFramesX:
		return d.video.frame(&d.clock, ts, 0, frameType == flvtag.FrameTypeKeyFrame, payload)
	case exSequenceEnd, exMetadata, exMPEG2TSSequenceStart:
		return nil, nil // HDR metadata is for players; there is no picture in it
	}
	// Multitrack (6) and ModEx (7) wrap other packets in ways H.264 over the
	// legacy header never needs.
	return nil, fmt.Errorf("E-RTMP video packet type %d: %w", packetType, ErrUnsupportedCodec)
}

// setAVCConfig takes a sequence header's avcC record. A header equal to the
// current one (encoders repeat it before keyframes) changes nothing; a
// different one replaces it and returns ErrParamsChanged.
func (t *videoTrack) setAVCConfig(avcC []byte) error {
	if len(avcC) > maxExtradata {
		return fmt.Errorf("AVC sequence header of %d bytes: %w", len(avcC), errMalformedTag)
	}
	if t.avcC != nil && bytes.Equal(avcC, t.avcC) {
		return nil
	}
	cfg, err := h264.ParseAVCConfig(avcC)
	if err != nil {
		return fmt.Errorf("AVC sequence header: %v: %w", err, errMalformedTag)
	}
	p := &media.VideoParams{Codec: media.H264, Extradata: bytes.Clone(avcC)}
	// An SPS our parser cannot read costs the size (onMetaData's is used)
	// and the VUI frame rate, not the stream: FFmpeg may well decode it.
	if sps, err := h264.ParseSPS(cfg.SPS[0]); err == nil {
		p.Width, p.Height = sps.Width, sps.Height
		p.FrameRate = rational(sps.FrameRate)
	}
	changed := t.params != nil
	t.avcC, t.lengthSize, t.params = p.Extradata, cfg.LengthSize, p
	if changed {
		return fmt.Errorf("new AVC sequence header: %w", ErrParamsChanged)
	}
	return nil
}

// frame makes the packet of an AVC frame: DTS is the tag's timestamp, PTS
// adds the composition time, Data is a copy of the AVCC payload.
func (t *videoTrack) frame(c *clock, ts uint32, cts int32, key bool, avcc []byte) (*media.Packet, error) {
	if t.params == nil {
		return nil, fmt.Errorf("AVC frame: %w", errNoSequenceHeader)
	}
	if len(avcc) == 0 {
		return nil, nil // some encoders send empty frames to keep time; FFmpeg skips them too
	}
	if err := checkAVCC(avcc, t.lengthSize); err != nil {
		return nil, err
	}
	dts := c.ticks(ts)
	return &media.Packet{
		Kind:     media.Video,
		DTS:      dts,
		PTS:      dts + int64(cts)*(media.ClockRate/1000),
		Keyframe: key,
		Data:     bytes.Clone(avcc),
	}, nil
}

// checkAVCC checks that the NAL unit lengths of an AVCC access unit add up
// to its size, without allocating.
func checkAVCC(b []byte, lengthSize int) error {
	for len(b) > 0 {
		if len(b) < lengthSize {
			return fmt.Errorf("AVCC: %d bytes left for a %d-byte length: %w", len(b), lengthSize, errMalformedTag)
		}
		n := 0
		for _, c := range b[:lengthSize] {
			n = n<<8 | int(c)
		}
		b = b[lengthSize:]
		if n == 0 || n > len(b) {
			return fmt.Errorf("AVCC: NAL unit of %d bytes, %d left: %w", n, len(b), errMalformedTag)
		}
		b = b[n:]
	}
	return nil
}

func videoCodecName(id flvtag.CodecID) string {
	switch id {
	case flvtag.CodecIDJPEG:
		return "JPEG"
	case flvtag.CodecIDSorensonH263:
		return "Sorenson H.263"
	case flvtag.CodecIDScreenVideo, flvtag.CodecIDScreenVideoVersion2:
		return "Screen video"
	case flvtag.CodecIDOn2VP6, flvtag.CodecIDOn2VP6WithAlphaChannel:
		return "On2 VP6"
	case 13:
		return "AV1"
	}
	return "unknown codec"
}
