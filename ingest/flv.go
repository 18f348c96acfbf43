package ingest

import (
	"errors"
	"fmt"
	"math"

	"github.com/livestream/livestream/media"
)

// The bodies of RTMP audio (8), video (9) and @setDataFrame (18) messages are
// FLV tag bodies: tagDecoder turns them into codec parameters and
// media.Packets. It is pure (no I/O, no clock, no goroutines) so that it can
// be fuzzed with arbitrary bytes; publish.go decides when the Sink starts.

// maxExtradata bounds a sequence header we keep. An avcC with its SPS and
// PPS is tens of bytes and an AudioSpecificConfig two to seven; anything
// near this is not a real encoder.
const maxExtradata = 64 << 10

// Errors of one tag. Wrapping ErrUnsupportedCodec or ErrParamsChanged, they
// end the publish (ErrParamsChanged only once the Sink has started); the
// others cost the tag alone, which is counted and skipped.
var (
	// errMalformedTag: the tag's bytes contradict FLV, H.264 or AAC.
	errMalformedTag = errors.New("malformed FLV tag")
	// errNoSequenceHeader: a frame came before its codec's sequence header,
	// so nothing downstream could decode it.
	errNoSequenceHeader = errors.New("frame before the sequence header")
)

// tagDecoder converts one publish's FLV tags. The zero value is ready; it
// is used by one goroutine.
type tagDecoder struct {
	clock clock
	meta  metadata
	video videoTrack
	audio audioTrack
}

// videoParams returns the video track's parameters, nil before its sequence
// header. The frame rate is onMetaData's framerate when the publisher sent
// a plausible one, else the SPS's VUI timing when plausible, else zero
// (the publish measures it then).
func (d *tagDecoder) videoParams() *media.VideoParams {
	if d.video.params == nil {
		return nil
	}
	p := *d.video.params
	p.FrameRate, p.FrameRateSource = media.Rational{}, ""
	if r := rational(d.meta.frameRate); media.PlausibleFrameRate(r) {
		p.FrameRate, p.FrameRateSource = r, media.FrameRateMetadata
	} else if r := d.video.params.FrameRate; media.PlausibleFrameRate(r) {
		p.FrameRate, p.FrameRateSource = r, media.FrameRateSPS
	}
	if p.Width == 0 || p.Height == 0 { // SPS we could not parse
		p.Width, p.Height = d.meta.width, d.meta.height
	}
	return &p
}

// announced says whether onMetaData came and which tracks it named.
func (d *tagDecoder) announced() (seen, video, audio bool) {
	return d.meta.seen, d.meta.hasVideo, d.meta.hasAudio
}

// audioParams returns the audio track's parameters, nil before its sequence
// header (AAC) or first frame (MP3).
func (d *tagDecoder) audioParams() *media.AudioParams {
	if d.audio.params == nil {
		return nil
	}
	p := *d.audio.params
	return &p
}

// clock turns RTMP's 32-bit millisecond timestamps into ClockRate ticks on
// one time base for audio and video. RTMP timestamps wrap after 2³² ms
// (49.7 days; go-rtmp sums chunk deltas in a uint32), so each one is taken as
// the signed 32-bit step from the one before: that unwraps the wrap and keeps
// the small steps back that interleaved audio and video make.
type clock struct {
	started bool
	last    uint32
	ms      int64
}

func (c *clock) ticks(ts uint32) int64 {
	if !c.started {
		c.started = true
		c.ms = int64(ts)
	} else {
		c.ms += int64(int32(ts - c.last))
	}
	c.last = ts
	return c.ms * (media.ClockRate / 1000)
}

// rational returns the frame rate f as a fraction: n/1 or n·1000/1001 (the
// NTSC rates) when f is within a thousandth of one, else f in thousandths.
// Rates outside (0, 1000] are not rates: zero.
func rational(f float64) media.Rational {
	if !(f > 0 && f <= 1000) {
		return media.Rational{}
	}
	if n := math.Round(f); math.Abs(f-n) < 1e-3 {
		return media.Rational{Num: int(n), Den: 1}
	}
	if n := math.Round(f * 1.001); math.Abs(f*1.001-n) < 1e-3 {
		return media.Rational{Num: int(n) * 1000, Den: 1001}
	}
	return media.Rational{Num: int(math.Round(f * 1000)), Den: 1000}
}

// printable names a FourCC or codec id in a log line and an error without
// letting a peer put control characters there.
func printable(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", b)
		}
	}
	return string(b)
}
