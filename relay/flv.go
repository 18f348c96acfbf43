package relay

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/livestream/livestream/media"
	"github.com/yutopp/go-amf0"
	flvtag "github.com/yutopp/go-flv/tag"
)

// The bodies of RTMP audio (8), video (9) and data (18) messages are FLV tag
// bodies. These functions build them from the stream's parameters and
// packets: the reverse of ingest's tag decoder. They are pure.

// errUnsupportedCodec: only H.264 (avcC) and AAC travel over classic RTMP.
var errUnsupportedCodec = errors.New("unsupported codec for RTMP")

// flvAAC is the first byte of every AAC tag: format 10 (AAC), and
// 44 kHz, 16-bit, stereo, which FLV requires for AAC whatever the real
// values (the AudioSpecificConfig carries those).
var flvAAC = flvtag.AudioData{
	SoundFormat: flvtag.SoundFormatAAC,
	SoundRate:   flvtag.SoundRate44kHz,
	SoundSize:   flvtag.SoundSize16Bit,
	SoundType:   flvtag.SoundTypeStereo,
}

// videoSequenceHeader returns the AVC sequence header tag of v.
func videoSequenceHeader(v *media.VideoParams) ([]byte, error) {
	if v.Codec != media.H264 || len(v.Extradata) == 0 || v.Extradata[0] != 1 {
		return nil, fmt.Errorf("video %s without an avcC record: %w", v.Codec, errUnsupportedCodec)
	}
	return videoTag(flvtag.FrameTypeKeyFrame, flvtag.AVCPacketTypeSequenceHeader, 0, v.Extradata)
}

// videoFrame returns the tag of an AVCC access unit. cts is PTS−DTS in ms.
func videoFrame(p *media.Packet, cts int32) ([]byte, error) {
	ft := flvtag.FrameTypeInterFrame
	if p.Keyframe {
		ft = flvtag.FrameTypeKeyFrame
	}
	return videoTag(ft, flvtag.AVCPacketTypeNALU, cts, p.Data)
}

func videoTag(ft flvtag.FrameType, pt flvtag.AVCPacketType, cts int32, payload []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(5 + len(payload))
	err := flvtag.EncodeVideoData(&b, &flvtag.VideoData{
		FrameType:       ft,
		CodecID:         flvtag.CodecIDAVC,
		AVCPacketType:   pt,
		CompositionTime: cts,
		Data:            bytes.NewReader(payload),
	})
	if err != nil {
		return nil, fmt.Errorf("encode FLV video tag: %w", err)
	}
	return b.Bytes(), nil
}

// audioSequenceHeader returns the AAC sequence header tag of a.
func audioSequenceHeader(a *media.AudioParams) ([]byte, error) {
	if a.Codec != media.AAC || len(a.Extradata) == 0 {
		return nil, fmt.Errorf("audio %s without an AudioSpecificConfig: %w", a.Codec, errUnsupportedCodec)
	}
	return audioTag(flvtag.AACPacketTypeSequenceHeader, a.Extradata)
}

// audioFrame returns the tag of a raw AAC frame.
func audioFrame(p *media.Packet) ([]byte, error) {
	return audioTag(flvtag.AACPacketTypeRaw, p.Data)
}

func audioTag(pt flvtag.AACPacketType, payload []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(2 + len(payload))
	d := flvAAC
	d.AACPacketType = pt
	d.Data = bytes.NewReader(payload)
	if err := flvtag.EncodeAudioData(&b, &d); err != nil {
		return nil, fmt.Errorf("encode FLV audio tag: %w", err)
	}
	return b.Bytes(), nil
}

// metadata returns the AMF0 body of an @setDataFrame data message,
// "onMetaData" and its properties:
// what players and the destination show before the first frame.
func metadata(v *media.VideoParams, a *media.AudioParams) ([]byte, error) {
	props := amf0.ECMAArray{}
	if v != nil {
		props["videocodecid"] = float64(flvtag.CodecIDAVC)
		if v.Width > 0 && v.Height > 0 {
			props["width"], props["height"] = float64(v.Width), float64(v.Height)
		}
		if v.FrameRate.Valid() {
			props["framerate"] = v.FrameRate.Float()
		}
	}
	if a != nil {
		props["audiocodecid"] = float64(flvtag.SoundFormatAAC)
		if a.SampleRate > 0 {
			props["audiosamplerate"] = float64(a.SampleRate)
		}
		if a.Channels > 0 {
			props["stereo"] = a.Channels > 1
		}
	}
	var b bytes.Buffer
	enc := amf0.NewEncoder(&b)
	for _, v := range []any{"onMetaData", props} {
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("encode onMetaData: %w", err)
		}
	}
	return b.Bytes(), nil
}
