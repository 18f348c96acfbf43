package codec

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// AudioEncoder encodes planar float stereo (as the Resampler emits it) to
// raw AAC-LC frames with FFmpeg's native encoder.
type AudioEncoder struct {
	name string
	cc   *astiav.CodecContext
	pkt  *astiav.Packet
	cfg  aac.Config
}

// NewAudioEncoder opens an AAC-LC encoder at bitrate bits per second.
func NewAudioEncoder(bitrate, sampleRate, channels int) (_ *AudioEncoder, err error) {
	name := fmt.Sprintf("aac %dk", bitrate/1000)
	codec := astiav.FindEncoderByName("aac")
	if codec == nil {
		return nil, fmt.Errorf("find aac encoder: %w", ErrUnsupported)
	}
	if channels != 2 && channels != 1 {
		return nil, fmt.Errorf("open %s: %d channels: want 1 or 2", name, channels)
	}
	e := &AudioEncoder{name: name, cc: astiav.AllocCodecContext(codec), pkt: astiav.AllocPacket(),
		cfg: aac.Config{ObjectType: 2, SampleRate: sampleRate, Channels: channels}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	e.cc.SetBitRate(int64(bitrate))
	e.cc.SetSampleRate(sampleRate)
	e.cc.SetSampleFormat(astiav.SampleFormatFltp)
	e.cc.SetChannelLayout(channelLayout(channels))
	e.cc.SetTimeBase(astiav.NewRational(1, sampleRate))
	if err := e.cc.Open(codec, nil); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return e, nil
}

func channelLayout(channels int) astiav.ChannelLayout {
	if channels == 1 {
		return astiav.ChannelLayoutMono
	}
	return astiav.ChannelLayoutStereo
}

// Config is the AudioSpecificConfig of the encoded stream.
func (e *AudioEncoder) Config() aac.Config { return e.cfg }

// FrameSize is the number of samples per channel the encoder takes per frame.
func (e *AudioEncoder) FrameSize() int { return e.cc.FrameSize() }

// Encode sends one frame of samples (its PTS in samples) and calls emit for
// every packet that becomes available. f is not released.
func (e *AudioEncoder) Encode(f *Frame, emit func(*media.Packet) error) error {
	if e.cc == nil {
		return ErrClosed
	}
	if err := e.cc.SendFrame(f.f); err != nil {
		return fmt.Errorf("encode %s frame: %w", e.name, err)
	}
	return receivePackets(e.cc, e.pkt, e.name, media.Audio, e.cc.TimeBase(), emit)
}

// Flush drains the encoder's delay.
func (e *AudioEncoder) Flush(emit func(*media.Packet) error) error {
	if e.cc == nil {
		return ErrClosed
	}
	if err := e.cc.SendFrame(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("flush %s: %w", e.name, err)
	}
	return receivePackets(e.cc, e.pkt, e.name, media.Audio, e.cc.TimeBase(), emit)
}

// Close frees the encoder. It is idempotent.
func (e *AudioEncoder) Close() {
	if e.pkt != nil {
		e.pkt.Free()
		e.pkt = nil
	}
	if e.cc != nil {
		e.cc.Free()
		e.cc = nil
	}
}
