package srt

import (
	"fmt"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/mpa"
)

// aacFrameSamples is the samples of one AAC-LC frame: the step between the
// frames of one PES, which carries the first one's PTS only.
const aacFrameSamples = 1024

// audioTrack is the state of the audio stream.
type audioTrack struct {
	pid        uint16
	streamType astits.StreamType
	cfg        *aac.Config        // AAC's, from the ADTS headers
	mpa        *media.AudioParams // MP2's or MP3's, from the frame headers
}

// change checks a repeated PMT's audio stream against the track's.
func (t *audioTrack) change(es *astits.PMTElementaryStream) error {
	if t.pid == 0 {
		return nil
	}
	if es == nil || es.ElementaryPID != t.pid || es.StreamType != t.streamType {
		return fmt.Errorf("the PMT changes the audio stream (%s): %w", streamTypeName(t.streamType), ingest.ErrParamsChanged)
	}
	return nil
}

// pes maps one audio PES: its frames (FFmpeg's muxer packs several in a
// PES) become one packet each, timed from the PES's PTS.
func (t *audioTrack) pes(m *tsMapper, pes *astits.PESData) error {
	_, pts, err := m.timestamps(pes.Header)
	if err != nil {
		return err
	}
	if t.streamType != astits.StreamTypeAACAudio {
		return t.mpegAudio(m, pts, pes.Data)
	}
	b := pes.Data
	for i := 0; len(b) > 0; i++ {
		h, payload, rest, err := aac.ParseADTS(b)
		if err != nil {
			return fmt.Errorf("ADTS frame %d of a PES: %v: %w", i, err, errMalformed)
		}
		b = rest
		if t.cfg == nil || *t.cfg != h.Config {
			if err := t.set(m.pub, h.Config); err != nil {
				return err
			}
		}
		if len(payload) == 0 {
			continue
		}
		at := pts + int64(i)*aacFrameSamples*media.ClockRate/int64(h.SampleRate)
		if err := m.pub.WritePacket(&media.Packet{Kind: media.Audio, DTS: at, PTS: at, Keyframe: true, Data: append([]byte(nil), payload...)}); err != nil {
			return err
		}
	}
	return nil
}

// set makes the params of a new ADTS configuration.
func (t *audioTrack) set(pub publisher, c aac.Config) error {
	asc, err := c.Marshal()
	if err != nil {
		return fmt.Errorf("ADTS configuration %+v: %v: %w", c, err, ingest.ErrUnsupportedCodec)
	}
	t.cfg = &c
	return pub.SetAudio(media.AudioParams{Codec: media.AAC, SampleRate: c.SampleRate, Channels: c.Channels, Extradata: asc})
}

// mpegAudio maps MPEG-1/2 audio frames: each whole frame (header included,
// as FFmpeg's decoders take it) is a packet. Layer II is MP2, layer III
// MP3; layer I is refused (nothing sends it, and the ladder has no decoder
// for it).
func (t *audioTrack) mpegAudio(m *tsMapper, pts int64, b []byte) error {
	at := pts
	for i := 0; len(b) > 0; i++ {
		h, frame, rest, err := mpa.SplitFrame(b)
		if err != nil {
			return fmt.Errorf("MPEG audio frame %d of a PES: %v: %w", i, err, errMalformed)
		}
		b = rest
		codec := media.MP2
		switch h.Layer {
		case 3:
			codec = media.MP3
		case 1:
			return fmt.Errorf("MPEG audio layer I: %w", ingest.ErrUnsupportedCodec)
		}
		p := media.AudioParams{Codec: codec, SampleRate: h.SampleRate, Channels: h.Channels}
		if t.mpa == nil || t.mpa.Codec != p.Codec || t.mpa.SampleRate != p.SampleRate || t.mpa.Channels != p.Channels {
			t.mpa = &p
			if err := m.pub.SetAudio(p); err != nil {
				return err
			}
		}
		if err := m.pub.WritePacket(&media.Packet{Kind: media.Audio, DTS: at, PTS: at, Keyframe: true, Data: append([]byte(nil), frame...)}); err != nil {
			return err
		}
		at += int64(h.Samples) * media.ClockRate / int64(h.SampleRate)
	}
	return nil
}
