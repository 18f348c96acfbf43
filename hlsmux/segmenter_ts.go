package hlsmux

import (
	"bytes"
	"context"
	"fmt"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// PIDs and stream IDs as FFmpeg's mpegts muxer writes them, so that tools
// and players see familiar streams. The PMT is on astits' PID 0x1000.
const (
	pidVideo      = 0x100
	pidAudio      = 0x101
	streamIDVideo = 0xe0
	streamIDAudio = 0xc0
	// pcrDelay is how far the PCR runs behind the DTS it is sent with: the
	// decoder buffer's head start (FFmpeg's default mux delay, 0.7 s).
	pcrDelay = 7 * media.ClockRate / 10
	// maxAudioPerPES: consecutive ADTS frames share a PES up to this many
	// (~100 ms), which saves most of the TS padding a PES per frame costs.
	maxAudioPerPES = 5
	// maxPCRInterval is the longest an audio-only stream's PES may span,
	// since its PCR rides on every audio PES (ISO/IEC 13818-1: ≤ 100 ms).
	maxPCRInterval = media.ClockRate / 10
	tsClockMask    = 1<<33 - 1
)

// tsWriter writes PES packets into the open segment's buffer through
// go-astits, whose Muxer keeps the continuity counters across segments.
//
// The astits structs are fields reused for every PES: WriteData keeps no
// reference to them after it returns.
type tsWriter struct {
	mux         *astits.Muxer
	buf         segmentBuffer
	video       bool
	first       bool // the next PES is the open segment's first
	audioPerPES int
	lastLen     int    // the previous segment's size, to size the next buffer
	payload     []byte // AUD + access unit, or ADTS frames

	data          astits.MuxerData
	pes           astits.PESData
	header        astits.PESHeader
	opt           astits.PESOptionalHeader
	af            astits.PacketAdaptationField
	pts, dts, pcr astits.ClockReference
}

// segmentBuffer is the muxer's io.Writer: the bytes of the open segment.
type segmentBuffer struct{ b []byte }

func (w *segmentBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func newTSWriter(video bool, audio *aac.Config) (*tsWriter, error) {
	w := &tsWriter{video: video, audioPerPES: maxAudioPerPES}
	w.mux = astits.NewMuxer(context.Background(), &w.buf)
	if video {
		if err := w.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: pidVideo, StreamType: astits.StreamTypeH264Video}); err != nil {
			return nil, fmt.Errorf("add video stream: %w", err)
		}
		w.mux.SetPCRPID(pidVideo)
	}
	if audio != nil {
		if err := w.mux.AddElementaryStream(astits.PMTElementaryStream{ElementaryPID: pidAudio, StreamType: astits.StreamTypeADTS}); err != nil {
			return nil, fmt.Errorf("add audio stream: %w", err)
		}
		if !video {
			w.mux.SetPCRPID(pidAudio)
			frame := 1024 * media.ClockRate / int64(audio.SampleRate)
			w.audioPerPES = int(min(max(maxPCRInterval/frame, 1), maxAudioPerPES))
		}
	}
	return w, nil
}

// startSegment begins a segment in a new buffer (the store keeps the old
// one). Its first PES carries a random access indicator on the PCR PID,
// which makes astits write PAT and PMT before it.
func (w *tsWriter) startSegment() {
	w.buf.b = make([]byte, 0, w.lastLen+w.lastLen/8+4096)
	w.first = true
}

// endSegment returns the segment's bytes, which the caller now owns.
func (w *tsWriter) endSegment() []byte {
	b := w.buf.b
	w.buf.b = nil
	w.lastLen = len(b)
	return b
}

func setClock(c *astits.ClockReference, ts int64) *astits.ClockReference {
	*c = astits.ClockReference{Base: ts & tsClockMask}
	return c
}

// audPrefix is an access unit delimiter (primary_pic_type 7: any slice).
// HLS wants one at the start of every video PES; libx264 writes it when
// asked (aud=1), and this adds it when it is not there.
var audPrefix = []byte{0, 0, 0, 1, 0x09, 0xf0}

func hasAUD(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0, 0, 0, 1, 0x09}) || bytes.HasPrefix(b, []byte{0, 0, 1, 0x09})
}

// writeVideo writes one access unit as a PES with PTS (and DTS when it
// differs), and a PCR in its first TS packet.
func (w *tsWriter) writeVideo(p *media.Packet) error {
	data := p.Data
	if !hasAUD(data) {
		w.payload = append(append(w.payload[:0], audPrefix...), data...)
		data = w.payload
	}
	w.opt = astits.PESOptionalHeader{
		MarkerBits:             2,
		DataAlignmentIndicator: true,
		PTSDTSIndicator:        astits.PTSDTSIndicatorOnlyPTS,
		PTS:                    setClock(&w.pts, p.PTS),
	}
	if p.DTS != p.PTS {
		w.opt.PTSDTSIndicator = astits.PTSDTSIndicatorBothPresent
		w.opt.DTS = setClock(&w.dts, p.DTS)
	}
	w.af = astits.PacketAdaptationField{
		HasPCR:                true,
		PCR:                   setClock(&w.pcr, p.DTS-pcrDelay),
		RandomAccessIndicator: p.Keyframe,
	}
	if err := w.write(pidVideo, streamIDVideo, &w.af, data); err != nil {
		return fmt.Errorf("write video PES at DTS %d: %w", p.DTS, err)
	}
	return nil
}

// writeAudio writes frames (at most audioPerPES) as ADTS in one PES with
// the first frame's PTS. Without video, the PES carries the PCR, and the
// segment's first one a random access indicator.
func (w *tsWriter) writeAudio(frames []*media.Packet, c *aac.Config) error {
	w.payload = w.payload[:0]
	for _, f := range frames {
		var err error
		if w.payload, err = aac.AppendADTS(w.payload, *c, f.Data); err != nil {
			return fmt.Errorf("write audio PES at PTS %d: %w", f.PTS, err)
		}
	}
	pts := frames[0].PTS
	w.opt = astits.PESOptionalHeader{
		MarkerBits:             2,
		DataAlignmentIndicator: true,
		PTSDTSIndicator:        astits.PTSDTSIndicatorOnlyPTS,
		PTS:                    setClock(&w.pts, pts),
	}
	var af *astits.PacketAdaptationField
	if !w.video {
		// astits writes PAT and PMT before every PES with a random access
		// indicator on the PCR PID, so only a segment's first PES has one.
		w.af = astits.PacketAdaptationField{
			HasPCR:                true,
			PCR:                   setClock(&w.pcr, pts-pcrDelay),
			RandomAccessIndicator: w.first,
		}
		af = &w.af
	}
	if err := w.write(pidAudio, streamIDAudio, af, w.payload); err != nil {
		return fmt.Errorf("write audio PES at PTS %d: %w", pts, err)
	}
	return nil
}

func (w *tsWriter) write(pid uint16, streamID uint8, af *astits.PacketAdaptationField, payload []byte) error {
	w.header = astits.PESHeader{StreamID: streamID, OptionalHeader: &w.opt}
	w.pes = astits.PESData{Header: &w.header, Data: payload}
	w.data = astits.MuxerData{PID: pid, AdaptationField: af, PES: &w.pes}
	_, err := w.mux.WriteData(&w.data)
	w.first = false
	return err
}
