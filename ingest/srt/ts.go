package srt

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/media"
)

// An MPEG-TS stream's demuxed data (go-astits) becomes tracks and packets
// here. tsMapper is pure (no I/O, no clock) so that it can be fuzzed with
// arbitrary bytes; conn.go feeds it and decides what its errors end.

// errMalformed: a PES's bytes contradict H.264, HEVC or ADTS. It costs the
// PES alone, which is counted and skipped.
var errMalformed = errors.New("malformed PES")

// publisher is what the mapper feeds: *ingest.Publish.
type publisher interface {
	Announce(video, audio bool)
	SetVideo(media.VideoParams) error
	SetAudio(media.AudioParams) error
	WritePacket(*media.Packet) error
	Skip(error)
}

var _ publisher = (*ingest.Publish)(nil)

// tsMapper maps one TS stream's PMT and PES to a publisher: the first
// video stream of a codec we take and the first audio stream.
type tsMapper struct {
	pub   publisher
	clock tsClock
	pmt   bool // a PMT has been read
	video videoTrack
	audio audioTrack
	// ignored names the PMT's streams we leave out, once logged.
	ignored []string
}

func newTSMapper(pub publisher) *tsMapper {
	return &tsMapper{pub: pub}
}

// handle takes one demuxed unit. Its error ends the publish
// (ingest.ErrUnsupportedCodec, ingest.ErrParamsChanged, the publisher's
// WritePacket error); a malformed PES is only counted.
func (m *tsMapper) handle(d *astits.DemuxerData) error {
	switch {
	case d.PMT != nil:
		return m.onPMT(d.PMT)
	case d.PES != nil:
		if !m.pmt {
			return nil // before the PMT nothing says what a PID holds
		}
		var err error
		switch d.PID {
		case m.video.pid:
			err = m.video.pes(m, d.PES)
		case m.audio.pid:
			err = m.audio.pes(m, d.PES)
		default:
			return nil
		}
		if errors.Is(err, errMalformed) {
			m.pub.Skip(err)
			return nil
		}
		return err
	}
	return nil
}

// onPMT picks the tracks. A later PMT (encoders repeat it every 100 ms or
// so) may not change the codec of a track: that ends the publish, as a new
// sequence header does over RTMP.
func (m *tsMapper) onPMT(pmt *astits.PMTData) error {
	var video, audio *astits.PMTElementaryStream
	var ignored []string
	for _, es := range pmt.ElementaryStreams {
		switch {
		case videoCodecs[es.StreamType] != "":
			if video == nil {
				video = es
			}
		case audioStreamTypes[es.StreamType]:
			if audio == nil {
				audio = es
			}
		default:
			ignored = append(ignored, streamTypeName(es.StreamType))
		}
	}
	if m.pmt {
		if err := m.video.change(video); err != nil {
			return err
		}
		return m.audio.change(audio)
	}
	if video == nil && audio == nil {
		return fmt.Errorf("MPEG-TS with no H.264, HEVC, AAC, MP2 or MP3 stream (streams: %v): %w", ignored, ingest.ErrUnsupportedCodec)
	}
	m.pmt, m.ignored = true, ignored
	if video != nil {
		m.video.pid, m.video.codec = video.ElementaryPID, videoCodecs[video.StreamType]
	}
	if audio != nil {
		m.audio.pid, m.audio.streamType = audio.ElementaryPID, audio.StreamType
	}
	m.pub.Announce(video != nil, audio != nil)
	return nil
}

// Ignored lists the streams of the PMT that are left out (a codec we do
// not take: AC-3, MP2, subtitles, data), for a log line.
func (m *tsMapper) Ignored() []string { return m.ignored }

// videoCodecs and audioCodecs are the PMT stream types we take.
var (
	videoCodecs = map[astits.StreamType]media.VideoCodec{
		astits.StreamTypeH264Video: media.H264,
		astits.StreamTypeH265Video: media.HEVC,
	}
	// audioStreamTypes: ADTS AAC, and MPEG-1/2 audio (MP2 or MP3: the
	// frames' headers tell).
	audioStreamTypes = map[astits.StreamType]bool{
		astits.StreamTypeAACAudio:   true,
		astits.StreamTypeMPEG1Audio: true,
		astits.StreamTypeMPEG2Audio: true,
	}
)

func streamTypeName(t astits.StreamType) string {
	switch t {
	case astits.StreamTypeMPEG1Video, astits.StreamTypeMPEG2Video:
		return "MPEG-2 video"
	case astits.StreamTypeAC3Audio, astits.StreamTypeEAC3Audio:
		return "AC-3"
	case astits.StreamTypeAACLATMAudio:
		return "AAC LATM"
	case astits.StreamTypePrivateData:
		return "private data (Opus, subtitles, …)"
	case astits.StreamTypeMetadata:
		return "metadata"
	case astits.StreamTypeSCTE35:
		return "SCTE-35"
	}
	return fmt.Sprintf("stream type 0x%02x", uint8(t))
}

// timestamps returns a PES's DTS and PTS in media.ClockRate ticks,
// unwrapped; a PES with no PTS is malformed (MPEG-TS requires one on every
// access unit's first PES in practice: encoders always write it).
func (m *tsMapper) timestamps(h *astits.PESHeader) (dts, pts int64, err error) {
	if h == nil || h.OptionalHeader == nil || h.OptionalHeader.PTS == nil {
		return 0, 0, fmt.Errorf("PES without a PTS: %w", errMalformed)
	}
	rawPTS := h.OptionalHeader.PTS.Base
	rawDTS := rawPTS
	if h.OptionalHeader.DTS != nil {
		rawDTS = h.OptionalHeader.DTS.Base
	}
	dts = m.clock.unwrap(rawDTS)
	return dts, dts + step33(rawPTS, rawDTS), nil
}

// tsClock unwraps the 33-bit 90 kHz timestamps of MPEG-TS (they wrap after
// 26.5 hours) onto one int64 time base for audio and video: each one is
// taken as the signed 33-bit step from the one before, which unwraps the
// wrap and keeps the small steps back that interleaved tracks and B-frames
// make. (media.ClockRate is TS's 90 kHz: no conversion.)
type tsClock struct {
	started bool
	last    int64 // raw, 33 bits
	ticks   int64
}

const wrap33 = 1 << 33

func (c *tsClock) unwrap(raw int64) int64 {
	raw &= wrap33 - 1
	if !c.started {
		c.started, c.last, c.ticks = true, raw, raw
		return raw
	}
	c.ticks += step33(raw, c.last)
	c.last = raw
	return c.ticks
}

// step33 is the signed step from b to a on the 33-bit clock.
func step33(a, b int64) int64 {
	d := (a - b) & (wrap33 - 1)
	if d >= wrap33/2 {
		d -= wrap33
	}
	return d
}
