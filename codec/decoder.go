package codec

// #cgo pkg-config: libavutil
// #include <libavutil/frame.h>
// static int64_t livestream_best_effort_timestamp(const AVFrame *f) { return f->best_effort_timestamp; }
import "C"

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
)

// inputPadding is AV_INPUT_BUFFER_PADDING_SIZE: FFmpeg's bitstream readers
// may read this far past the end of a packet, so every packet handed to a
// decoder is followed by that many zero bytes. (go-astiav v0.16's
// Packet.FromData allocates exactly len(data), so we pad before calling it.)
const inputPadding = 64

var zeroPadding [inputPadding]byte

// Decoder decodes one video (H.264, HEVC) or audio (AAC, MP3, MP2) stream.
//
// A Decoder is used by one goroutine. Close frees it.
type Decoder struct {
	name    string
	cc      *astiav.CodecContext
	pkt     *astiav.Packet
	scratch []byte
}

// videoDecoders are the FFmpeg decoders of the video codecs the ladder
// takes. A codec added here (AV1) needs nothing else from codec: FFmpeg's
// decoders read their own extradata (avcC or Annex B, hvcC or Annex B).
var videoDecoders = map[media.VideoCodec]astiav.CodecID{
	media.H264: astiav.CodecIDH264,
	media.HEVC: astiav.CodecIDHevc,
}

// NewVideoDecoder opens a decoder for p, chosen by p.Codec. threads is the
// number of decoding threads (0: FFmpeg's choice, one per core).
func NewVideoDecoder(p media.VideoParams, threads int) (*Decoder, error) {
	id, ok := videoDecoders[p.Codec]
	if !ok {
		return nil, fmt.Errorf("video codec %q: %w (want h264 or hevc)", p.Codec, ErrUnsupported)
	}
	return newDecoder(string(p.Codec), id, p.Extradata, func(cc *astiav.CodecContext) {
		cc.SetWidth(p.Width)
		cc.SetHeight(p.Height)
		cc.SetThreadCount(threads)
		cc.SetThreadType(astiav.ThreadTypeFrame)
	})
}

// NewAudioDecoder opens a decoder for p.
func NewAudioDecoder(p media.AudioParams) (*Decoder, error) {
	var id astiav.CodecID
	switch p.Codec {
	case media.AAC:
		id = astiav.CodecIDAac
	case media.MP3:
		id = astiav.CodecIDMp3
	case media.MP2:
		id = astiav.CodecIDMp2
	default:
		return nil, fmt.Errorf("audio codec %q: %w (want aac, mp3 or mp2)", p.Codec, ErrUnsupported)
	}
	return newDecoder(string(p.Codec), id, p.Extradata, func(cc *astiav.CodecContext) {
		if p.SampleRate > 0 {
			cc.SetSampleRate(p.SampleRate)
		}
	})
}

func newDecoder(name string, id astiav.CodecID, extradata []byte, setup func(*astiav.CodecContext)) (_ *Decoder, err error) {
	c := astiav.FindDecoder(id)
	if c == nil {
		return nil, fmt.Errorf("find %s decoder: %w", name, ErrUnsupported)
	}
	d := &Decoder{name: name, cc: astiav.AllocCodecContext(c), pkt: astiav.AllocPacket()}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.cc == nil || d.pkt == nil {
		return nil, fmt.Errorf("allocate %s decoder: out of memory", name)
	}
	// Packets arrive in media.ClockRate ticks; frames keep them.
	d.cc.SetTimeBase(clockTimeBase)
	if len(extradata) > 0 {
		if err := d.cc.SetExtraData(extradata); err != nil {
			return nil, fmt.Errorf("set %s extradata: %w", name, err)
		}
	}
	setup(d.cc)
	if err := d.cc.Open(c, nil); err != nil {
		return nil, fmt.Errorf("open %s decoder: %w", name, err)
	}
	return d, nil
}

// Decode sends one packet and calls emit for every frame that becomes
// available. emit owns each frame it is given (it must Release it), even
// when it returns an error, which Decode then returns.
//
// A corrupt packet returns an error wrapping FFmpeg's; the decoder stays
// usable and the caller may skip the packet and go on.
func (d *Decoder) Decode(p *media.Packet, emit func(*Frame) error) error {
	if d.cc == nil {
		return ErrClosed
	}
	if len(p.Data) == 0 {
		return nil // an empty packet would mean "flush" to FFmpeg
	}
	d.scratch = append(append(d.scratch[:0], p.Data...), zeroPadding[:]...)
	if err := d.pkt.FromData(d.scratch); err != nil {
		return fmt.Errorf("copy %s packet: %w", d.name, err)
	}
	d.pkt.SetSize(len(p.Data))
	d.pkt.SetPts(p.PTS)
	d.pkt.SetDts(p.DTS)
	if p.Keyframe {
		d.pkt.SetFlags(astiav.NewPacketFlags(astiav.PacketFlagKey))
	}
	err := d.cc.SendPacket(d.pkt)
	d.pkt.Unref()
	if err != nil && !errors.Is(err, astiav.ErrEagain) {
		// Drain what the decoder has anyway so that it stays usable.
		if rerr := d.receive(emit); rerr != nil {
			return rerr
		}
		return fmt.Errorf("decode %s packet at %d: %w: %w", d.name, p.DTS, ErrCorrupt, err)
	}
	return d.receive(emit)
}

// Flush drains the frames the decoder still holds (frame threads, reordering).
// The decoder cannot be used for decoding afterwards.
func (d *Decoder) Flush(emit func(*Frame) error) error {
	if d.cc == nil {
		return ErrClosed
	}
	if err := d.cc.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("flush %s decoder: %w", d.name, err)
	}
	return d.receive(emit)
}

func (d *Decoder) receive(emit func(*Frame) error) error {
	// A frame that failed to decode is reported by ReceiveFrame once; the
	// frames after it still come, so keep draining and report the first
	// failure at the end. The bound stops a decoder that only fails.
	var firstErr error
	for fails := 0; fails < maxReceiveFailures; {
		f := astiav.AllocFrame()
		if err := d.cc.ReceiveFrame(f); err != nil {
			f.Free()
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return firstErr
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("decode %s: %w: %w", d.name, ErrCorrupt, err)
			}
			fails++
			continue
		}
		// FFmpeg's best effort timestamp is the frame's PTS unless the
		// stream's PTS have gone back more often than its DTS: a publisher
		// that stamps B-frames with their DTS (a composition time of 0)
		// gets decode-order times on presentation-order pictures, and
		// then the DTS of the packet that released each picture are the
		// better guess. The ffmpeg CLI times its pictures the same way.
		if ts := int64(C.livestream_best_effort_timestamp((*C.AVFrame)(f.UnsafePointer()))); ts != astiav.NoPtsValue {
			f.SetPts(ts)
		} else if f.Pts() == astiav.NoPtsValue {
			f.SetPts(f.PktDts())
		}
		if err := emit(&Frame{f: f}); err != nil {
			return err
		}
	}
	return firstErr
}

// maxReceiveFailures bounds the decode errors drained in one call.
const maxReceiveFailures = 64

// Close frees the decoder. It is idempotent.
func (d *Decoder) Close() {
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.cc != nil {
		d.cc.Free()
		d.cc = nil
	}
}
