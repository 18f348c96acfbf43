package ingest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	flvtag "github.com/yutopp/go-flv/tag"
)

// soundFormatExHeader is E-RTMP v2's audio extended header: the low four
// bits are the packet type and a FourCC names the codec.
const soundFormatExHeader = 9

// E-RTMP audio packet types.
const (
	exAudioSequenceStart = 0
	exAudioCodedFrames   = 1
	exAudioSequenceEnd   = 2
)

// audioTrack is the state of the audio track.
type audioTrack struct {
	asc    []byte // AAC's AudioSpecificConfig
	params *media.AudioParams
}

// audioTag converts the body of an RTMP audio message received at ts. It
// returns the frame it carries, or nil for a sequence header. The packet
// owns a copy of the payload.
func (d *tagDecoder) audioTag(ts uint32, body []byte) (*media.Packet, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("empty audio tag: %w", errMalformedTag)
	}
	switch format := flvtag.SoundFormat(body[0] >> 4); format {
	case flvtag.SoundFormatAAC:
		r := bytes.NewReader(body)
		var a flvtag.AudioData
		if err := flvtag.DecodeAudioData(r, &a); err != nil {
			return nil, fmt.Errorf("AAC audio tag of %d bytes: %w", len(body), errMalformedTag)
		}
		payload := body[len(body)-r.Len():]
		switch a.AACPacketType {
		case flvtag.AACPacketTypeSequenceHeader:
			return nil, d.audio.setAAC(payload)
		case flvtag.AACPacketTypeRaw:
			return d.audio.frame(&d.clock, ts, media.AAC, payload)
		}
		return nil, fmt.Errorf("AAC packet type %d: %w", a.AACPacketType, errMalformedTag)
	case flvtag.SoundFormatMP3, flvtag.SoundFormatMP3_8kHz:
		// MP3 has no sequence header: its frames describe themselves.
		if err := d.audio.setMP3(body[1:]); err != nil {
			return nil, err
		}
		return d.audio.frame(&d.clock, ts, media.MP3, body[1:])
	case soundFormatExHeader:
		return d.exAudioTag(ts, body)
	default:
		return nil, fmt.Errorf("%s (FLV sound format %d): %w", soundFormatName(format), format, ErrUnsupportedCodec)
	}
}

// exAudioTag converts an E-RTMP audio tag: AAC ("mp4a") is accepted the way
// the legacy header carries it; every other FourCC is refused.
func (d *tagDecoder) exAudioTag(ts uint32, body []byte) (*media.Packet, error) {
	if len(body) < 5 {
		return nil, fmt.Errorf("E-RTMP audio tag of %d bytes: %w", len(body), errMalformedTag)
	}
	if fourCC := body[1:5]; string(fourCC) != "mp4a" {
		return nil, fmt.Errorf("E-RTMP audio FourCC %q: %w", printable(fourCC), ErrUnsupportedCodec)
	}
	switch packetType := body[0] & 0x0f; packetType {
	case exAudioSequenceStart:
		return nil, d.audio.setAAC(body[5:])
	case exAudioCodedFrames:
		return d.audio.frame(&d.clock, ts, media.AAC, body[5:])
	case exAudioSequenceEnd:
		return nil, nil
	default: // multichannel config, multitrack, ModEx
		return nil, fmt.Errorf("E-RTMP audio packet type %d: %w", packetType, ErrUnsupportedCodec)
	}
}

// setAAC takes an AAC sequence header's AudioSpecificConfig. As with video,
// a repeated header changes nothing and a different one returns
// ErrParamsChanged.
func (t *audioTrack) setAAC(asc []byte) error {
	if len(asc) > maxExtradata {
		return fmt.Errorf("AAC sequence header of %d bytes: %w", len(asc), errMalformedTag)
	}
	if t.asc != nil && bytes.Equal(asc, t.asc) {
		return nil
	}
	cfg, err := aac.ParseConfig(asc)
	if errors.Is(err, aac.ErrUnsupported) {
		return fmt.Errorf("AAC: %v: %w", err, ErrUnsupportedCodec)
	}
	if err != nil {
		return fmt.Errorf("AAC sequence header: %v: %w", err, errMalformedTag)
	}
	p := &media.AudioParams{Codec: media.AAC, SampleRate: cfg.SampleRate, Channels: cfg.Channels, Extradata: bytes.Clone(asc)}
	return t.set(p, p.Extradata)
}

// setMP3 reads the parameters of an MP3 stream from a frame's header.
func (t *audioTrack) setMP3(frame []byte) error {
	rate, channels, err := parseMP3Header(frame)
	if err != nil {
		return err
	}
	if p := t.params; p != nil && p.Codec == media.MP3 && p.SampleRate == rate && p.Channels == channels {
		return nil
	}
	return t.set(&media.AudioParams{Codec: media.MP3, SampleRate: rate, Channels: channels}, nil)
}

func (t *audioTrack) set(p *media.AudioParams, asc []byte) error {
	changed := t.params != nil
	t.asc, t.params = asc, p
	if changed {
		return fmt.Errorf("new %s audio parameters: %w", p.Codec, ErrParamsChanged)
	}
	return nil
}

// frame makes the packet of an audio frame. Every audio packet is a
// keyframe.
func (t *audioTrack) frame(c *clock, ts uint32, codec media.AudioCodec, data []byte) (*media.Packet, error) {
	if t.params == nil || t.params.Codec != codec {
		return nil, fmt.Errorf("%s frame: %w", codec, errNoSequenceHeader)
	}
	if len(data) == 0 {
		return nil, nil
	}
	dts := c.ticks(ts)
	return &media.Packet{Kind: media.Audio, DTS: dts, PTS: dts, Keyframe: true, Data: bytes.Clone(data)}, nil
}

// mp3Rates are the sampling frequencies of MPEG-1 audio by index; MPEG-2
// halves them and MPEG-2.5 quarters them (ISO/IEC 11172-3 and 13818-3).
var mp3Rates = [3]int{44100, 48000, 32000}

// parseMP3Header reads the sample rate and channel count of an MPEG audio
// layer III frame header. Layers I and II are refused: FLV's "MP3" is
// layer III, and FFmpeg's mp3 decoder decodes nothing else.
func parseMP3Header(b []byte) (rate, channels int, err error) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return 0, 0, fmt.Errorf("MP3 frame without a frame sync: %w", errMalformedTag)
	}
	version, layer := b[1]>>3&3, b[1]>>1&3
	bitrate, rateIndex := b[2]>>4, b[2]>>2&3
	if version == 1 || layer == 0 || bitrate == 15 || rateIndex == 3 {
		return 0, 0, fmt.Errorf("MP3 frame header %x: %w", b[:4], errMalformedTag)
	}
	if layer != 1 {
		return 0, 0, fmt.Errorf("MPEG audio layer %d: %w", 4-layer, ErrUnsupportedCodec)
	}
	rate = mp3Rates[rateIndex]
	switch version {
	case 2: // MPEG-2
		rate /= 2
	case 0: // MPEG-2.5
		rate /= 4
	}
	channels = 2
	if b[3]>>6 == 3 {
		channels = 1
	}
	return rate, channels, nil
}

func soundFormatName(f flvtag.SoundFormat) string {
	switch f {
	case flvtag.SoundFormatLinearPCMPlatformEndian, flvtag.SoundFormatLinearPCMLittleEndian:
		return "linear PCM"
	case flvtag.SoundFormatADPCM:
		return "ADPCM"
	case flvtag.SoundFormatNellymoser16kHzMono, flvtag.SoundFormatNellymoser8kHzMono, flvtag.SoundFormatNellymoser:
		return "Nellymoser"
	case flvtag.SoundFormatG711ALawLogarithmicPCM, flvtag.SoundFormatG711muLawLogarithmicPCM:
		return "G.711"
	case flvtag.SoundFormatSpeex:
		return "Speex"
	case 13:
		return "Opus"
	}
	return "unknown codec"
}
