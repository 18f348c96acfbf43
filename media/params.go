package media

import "fmt"

// VideoCodec names a video coding format.
type VideoCodec string

// AudioCodec names an audio coding format.
type AudioCodec string

const (
	H264 VideoCodec = "h264"
	// HEVC is H.265. Its packets are Annex B or, with an hvcC record as
	// Extradata, length-prefixed; the ladder re-encodes it to H.264.
	HEVC VideoCodec = "hevc"
	AAC  AudioCodec = "aac"
	MP3  AudioCodec = "mp3"
	// MP2 is MPEG-1/2 Audio Layer II, which broadcast MPEG-TS (and so
	// SRT contribution encoders) often carries.
	MP2 AudioCodec = "mp2"
)

// Rational is a fraction, used for frame rates (30000/1001).
type Rational struct{ Num, Den int }

// Float returns the value of r, or 0 when the denominator is 0.
func (r Rational) Float() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Valid reports whether r is a positive fraction.
func (r Rational) Valid() bool { return r.Num > 0 && r.Den > 0 }

func (r Rational) String() string { return fmt.Sprintf("%d/%d", r.Num, r.Den) }

// VideoParams describes a video stream: what a decoder needs before the first packet.
type VideoParams struct {
	Codec         VideoCodec
	Width, Height int
	// FrameRate is the nominal frame rate; zero when unknown.
	FrameRate Rational
	// FrameRateSource says where FrameRate comes from: FrameRateMetadata,
	// FrameRateSPS, FrameRateMeasured, or "" when it is unknown.
	FrameRateSource string
	// Extradata is the decoder configuration. H.264: an
	// AVCDecoderConfigurationRecord (avcC, then packets are AVCC
	// length-prefixed) or Annex B SPS/PPS (or empty, then packets are Annex
	// B with in-band parameter sets). HEVC: an HEVCDecoderConfigurationRecord
	// (hvcC, length-prefixed packets) or Annex B VPS/SPS/PPS (Annex B
	// packets), as FFmpeg's decoders tell them apart.
	Extradata []byte
}

// Where a VideoParams' frame rate comes from.
const (
	FrameRateMetadata  = "metadata"  // the publisher's onMetaData framerate
	FrameRateSPS       = "sps"       // the H.264 SPS's VUI timing
	FrameRateContainer = "container" // a file's container (livestream transcode)
	FrameRateMeasured  = "measured"  // the DTS of the first second of frames
)

// AudioParams describes an audio stream.
type AudioParams struct {
	Codec      AudioCodec
	SampleRate int
	Channels   int
	// Extradata is the AAC AudioSpecificConfig; empty when packets carry ADTS headers.
	Extradata []byte
}
