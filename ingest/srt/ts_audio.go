package srt

import (
	"fmt"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// aacFrameSamples is the samples of one AAC-LC frame: the step between the
// frames of one PES, which carries the first one's PTS only.
const aacFrameSamples = 1024

// audioTrack is the state of the audio stream.
type audioTrack struct {
	pid   uint16
	codec media.AudioCodec
	cfg   *aac.Config
}

// change checks a repeated PMT's audio stream against the track's.
func (t *audioTrack) change(es *astits.PMTElementaryStream) error {
	if t.pid == 0 {
		return nil
	}
	if es == nil || es.ElementaryPID != t.pid || audioCodecs[es.StreamType] != t.codec {
		return fmt.Errorf("the PMT changes the %s audio stream: %w", t.codec, ingest.ErrParamsChanged)
	}
	return nil
}

// pes maps one audio PES: ADTS frames (FFmpeg's muxer packs several in a
// PES) become one raw AAC packet each, timed from the PES's PTS.
func (t *audioTrack) pes(m *tsMapper, pes *astits.PESData) error {
	_, pts, err := m.timestamps(pes.Header)
	if err != nil {
		return err
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
