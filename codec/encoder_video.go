package codec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
)

// VideoEncoderConfig sets up one libx264 encode.
type VideoEncoderConfig struct {
	Width, Height int
	// FrameRate is the nominal input rate; x264's rate control uses it.
	FrameRate media.Rational
	// Bitrate, MaxRate and BufSize are in bits per second (VBV with CRF).
	Bitrate, MaxRate, BufSize int
	CRF                       float64
	Preset, Profile           string
	// GOP is the keyframe interval in frames; every GOP-th frame is an IDR,
	// with scene-cut detection off and closed GOPs, so that renditions fed
	// the same frames cut at the same PTS. EncodeKeyframe starts a GOP
	// early, and x264 counts the next GOP from there.
	GOP int
	// Threads is x264's thread count (0: x264's choice, 1.5 per core).
	Threads int
	// SlicedThreads splits each picture into one slice per thread instead
	// of encoding Threads pictures at once: frame threads delay every
	// packet by one frame per thread beyond the first (and, by default, by
	// a sync lookahead of BFrames+1 frames), sliced threads by none, for a
	// few more bits per picture.
	SlicedThreads bool
	// Lookahead is x264's rate-control lookahead in frames (0: the
	// preset's; Disabled: none, which also turns off MB-tree). Every frame
	// of it delays each packet by one frame.
	Lookahead int
	// BFrames is the most consecutive B-frames x264 may use (0: the
	// preset's, 3 at veryfast; Disabled: none). x264 holds as many frames
	// back as the larger of BFrames and Lookahead.
	BFrames int
	// SyncLookahead is the frames x264's lookahead thread runs ahead of
	// frame threads (0: x264's BFrames+1 with frame threads, none with one
	// thread or sliced threads; Disabled: none). Each frame of it delays
	// each packet by one frame.
	SyncLookahead int
	// ConstantRate tells x264 that pictures come at FrameRate (its
	// force-cfr): it rates each one 1/FrameRate long instead of reading the
	// duration from the next picture's timestamp, which holds every packet
	// back one frame more. Timestamps pass through unchanged.
	ConstantRate bool
}

// Disabled, as VideoEncoderConfig's BFrames, Lookahead or SyncLookahead,
// asks x264 for none where 0 keeps the preset's.
const Disabled = -1

// frames is x264's option value for a count where 0 keeps the preset's and
// Disabled is none: "" (not set), or the count.
func frames(n int) string {
	switch {
	case n == 0:
		return ""
	case n < 0:
		return "0"
	}
	return strconv.Itoa(n)
}

// VideoEncoder encodes yuv420p pictures to H.264 Annex B access units with
// an access unit delimiter, and SPS/PPS before every IDR (no global header),
// as HLS segments want them.
type VideoEncoder struct {
	name string
	cc   *astiav.CodecContext
	pkt  *astiav.Packet
}

// NewVideoEncoder opens libx264 with c.
func NewVideoEncoder(c VideoEncoderConfig) (_ *VideoEncoder, err error) {
	name := fmt.Sprintf("libx264 %dx%d", c.Width, c.Height)
	codec := astiav.FindEncoderByName("libx264")
	if codec == nil {
		return nil, fmt.Errorf("find libx264: %w", ErrUnsupported)
	}
	e := &VideoEncoder{name: name, cc: astiav.AllocCodecContext(codec), pkt: astiav.AllocPacket()}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if !c.FrameRate.Valid() {
		return nil, fmt.Errorf("open %s: frame rate %s: must be positive", name, c.FrameRate)
	}
	e.cc.SetWidth(c.Width)
	e.cc.SetHeight(c.Height)
	e.cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	e.cc.SetTimeBase(clockTimeBase)
	e.cc.SetFramerate(astiav.NewRational(c.FrameRate.Num, c.FrameRate.Den))
	e.cc.SetSampleAspectRatio(astiav.NewRational(1, 1))
	e.cc.SetFlags(e.cc.Flags().Add(astiav.CodecContextFlagClosedGop))

	opts := astiav.NewDictionary()
	defer opts.Free()
	set := func(k, v string) {
		if err == nil && v != "" && v != "0" {
			err = opts.Set(k, v, astiav.NewDictionaryFlags())
		}
	}
	// setCount sets a frame count that may be 0 (frames).
	setCount := func(k string, n int) {
		if v := frames(n); err == nil && v != "" {
			err = opts.Set(k, v, astiav.NewDictionaryFlags())
		}
	}
	set("preset", c.Preset)
	set("profile", c.Profile)
	set("crf", strconv.FormatFloat(c.CRF, 'f', -1, 64))
	set("b", strconv.Itoa(c.Bitrate))
	set("maxrate", strconv.Itoa(c.MaxRate))
	set("bufsize", strconv.Itoa(c.BufSize))
	set("g", strconv.Itoa(c.GOP))
	set("keyint_min", strconv.Itoa(c.GOP))
	set("threads", strconv.Itoa(c.Threads))
	setCount("rc-lookahead", c.Lookahead)
	setCount("bf", c.BFrames)
	// libx264's own options have no sync lookahead, sliced threads or
	// force-cfr: they go to x264 itself, parsed after every other option.
	var params []string
	if v := frames(c.SyncLookahead); v != "" {
		params = append(params, "sync-lookahead="+v)
	}
	if c.SlicedThreads {
		params = append(params, "sliced-threads=1")
	}
	if c.ConstantRate {
		params = append(params, "force-cfr=1")
	}
	set("x264-params", strings.Join(params, ":"))
	set("aud", "1")
	// A picture typed I (EncodeKeyframe) is only a "keyframe" to x264: an
	// IDR while GOPs are closed, as here, but a plain I-frame in an open
	// GOP. forced-idr asks for an IDR outright, so that a forced keyframe
	// is always one a player can start from, whatever the GOP flags.
	set("forced-idr", "1")
	if err == nil {
		err = opts.Set("sc_threshold", "0", astiav.NewDictionaryFlags())
	}
	if err != nil {
		return nil, fmt.Errorf("set %s options: %w", name, err)
	}
	if c.Threads == 0 {
		e.cc.SetThreadCount(0)
	}
	if err := e.cc.Open(codec, opts); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return e, nil
}

// Encode sends one picture and calls emit for every packet that becomes
// available; x264 chooses the picture's type (an IDR every GOP frames). f is
// not released: the encoder copies the picture, so the caller releases f as
// soon as Encode returns.
func (e *VideoEncoder) Encode(f *Frame, emit func(*media.Packet) error) error {
	// A decoded frame carries its source picture type; libx264 would obey it
	// and copy the source's GOP structure (the ffmpeg CLI resets it too).
	return e.encode(f, astiav.PictureTypeNone, emit)
}

// EncodeKeyframe is Encode for a picture that must start a new GOP: x264
// encodes it as an IDR, with SPS and PPS, whatever its frame count says.
// This is how a caller keeps keyframes on a clock when pictures are dropped
// before the encoder (the ffmpeg CLI's -force_key_frames).
func (e *VideoEncoder) EncodeKeyframe(f *Frame, emit func(*media.Packet) error) error {
	return e.encode(f, astiav.PictureTypeI, emit)
}

// encode sends f typed t (PictureTypeNone: x264's choice). The type is set
// on the caller's reference only: clones of the picture keep their own.
func (e *VideoEncoder) encode(f *Frame, t astiav.PictureType, emit func(*media.Packet) error) error {
	if e.cc == nil {
		return ErrClosed
	}
	f.f.SetPictureType(t)
	if err := e.cc.SendFrame(f.f); err != nil {
		return fmt.Errorf("encode %s frame: %w", e.name, err)
	}
	return e.receive(emit)
}

// Flush drains the frames x264 still holds (lookahead, B-frames).
func (e *VideoEncoder) Flush(emit func(*media.Packet) error) error {
	if e.cc == nil {
		return ErrClosed
	}
	if err := e.cc.SendFrame(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("flush %s: %w", e.name, err)
	}
	return e.receive(emit)
}

func (e *VideoEncoder) receive(emit func(*media.Packet) error) error {
	return receivePackets(e.cc, e.pkt, e.name, media.Video, e.cc.TimeBase(), emit)
}

// Close frees the encoder. It is idempotent.
func (e *VideoEncoder) Close() {
	if e.pkt != nil {
		e.pkt.Free()
		e.pkt = nil
	}
	if e.cc != nil {
		e.cc.Free()
		e.cc = nil
	}
}

// receivePackets drains an encoder into Go-memory packets.
func receivePackets(cc *astiav.CodecContext, pkt *astiav.Packet, name string, kind media.Kind, tb astiav.Rational, emit func(*media.Packet) error) error {
	for {
		if err := cc.ReceivePacket(pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("receive %s packet: %w", name, err)
		}
		p := &media.Packet{
			Kind:     kind,
			PTS:      toTicks(pkt.Pts(), tb),
			DTS:      toTicks(pkt.Dts(), tb),
			Keyframe: kind == media.Audio || pkt.Flags().Has(astiav.PacketFlagKey),
			Data:     pkt.Data(),
		}
		pkt.Unref()
		if err := emit(p); err != nil {
			return err
		}
	}
}
