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
// and players see familiar streams.
const (
	pidVideo      = 0x100
	pidAudio      = 0x101
	streamIDVideo = 0xe0
	streamIDAudio = 0xc0
	// pcrDelay is how far the PCR runs behind the video DTS: the decoder
	// buffer's head start (FFmpeg's default mux delay is 0.7 s).
	pcrDelay = 63000
	// maxAudioPerPES: consecutive AAC frames share a PES up to this many
	// (about 100 ms), which saves TS packet padding.
	maxAudioPerPES = 5
	tsClockMask    = 1<<33 - 1
)

// tsWriter writes PES packets into the current segment's buffer through
// go-astits, which keeps the continuity counters across segments.
type tsWriter struct {
	mux     *astits.Muxer
	buf     segmentBuffer
	video   bool
	lastLen int // the previous segment's size, to size the next buffer
	adts    []byte
	aud     []byte
}

// segmentBuffer is the muxer's io.Writer: the bytes of the open segment.
type segmentBuffer struct{ b []byte }

func (w *segmentBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func newTSWriter(video bool, audio *aac.Config) (*tsWriter, error) {
	w := &tsWriter{video: video}
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
		}
	}
	return w, nil
}

// startSegment begins a segment. With video the muxer writes PAT and PMT
// before every keyframe on the PCR PID, and a segment starts with one;
// audio-only segments get their tables here.
func (w *tsWriter) startSegment() {
	w.buf.b = make([]byte, 0, w.lastLen+w.lastLen/8+4096)
	if !w.video {
		w.mux.WriteTables() // writes into buf, cannot fail
	}
}

// endSegment returns the segment's bytes, which the caller now owns.
func (w *tsWriter) endSegment() []byte {
	b := w.buf.b
	w.buf.b = nil
	w.lastLen = len(b)
	return b
}

func clock(ts int64) *astits.ClockReference {
	return &astits.ClockReference{Base: ts & tsClockMask}
}

// audPrefix is an access unit delimiter (primary_pic_type 7: any slice),
// which HLS wants at the start of every video PES.
var audPrefix = []byte{0, 0, 0, 1, 0x09, 0xf0}

func hasAUD(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0, 0, 0, 1, 0x09}) || bytes.HasPrefix(b, []byte{0, 0, 1, 0x09})
}

func (w *tsWriter) writeVideo(p *media.Packet) error {
	data := p.Data
	if !hasAUD(data) {
		w.aud = append(append(w.aud[:0], audPrefix...), data...)
		data = w.aud
	}
	oh := &astits.PESOptionalHeader{
		MarkerBits:             2,
		DataAlignmentIndicator: true,
		PTSDTSIndicator:        astits.PTSDTSIndicatorOnlyPTS,
		PTS:                    clock(p.PTS),
	}
	if p.DTS != p.PTS {
		oh.PTSDTSIndicator = astits.PTSDTSIndicatorBothPresent
		oh.DTS = clock(p.DTS)
	}
	_, err := w.mux.WriteData(&astits.MuxerData{
		PID: pidVideo,
		AdaptationField: &astits.PacketAdaptationField{
			HasPCR:                true,
			PCR:                   clock(p.DTS - pcrDelay),
			RandomAccessIndicator: p.Keyframe,
		},
		PES: &astits.PESData{
			Header: &astits.PESHeader{StreamID: streamIDVideo, OptionalHeader: oh},
			Data:   data,
		},
	})
	if err != nil {
		return fmt.Errorf("write video PES: %w", err)
	}
	return nil
}

// writeAudio writes frames as ADTS, up to maxAudioPerPES per PES. withPCR
// puts a PCR on each PES (audio-only streams).
func (w *tsWriter) writeAudio(ps []*media.Packet, c *aac.Config, withPCR bool) error {
	for len(ps) > 0 {
		n := min(len(ps), maxAudioPerPES)
		w.adts = w.adts[:0]
		for _, p := range ps[:n] {
			var err error
			if w.adts, err = aac.AppendADTS(w.adts, *c, p.Data); err != nil {
				return fmt.Errorf("write audio PES: %w", err)
			}
		}
		d := &astits.MuxerData{
			PID: pidAudio,
			PES: &astits.PESData{
				Header: &astits.PESHeader{StreamID: streamIDAudio, OptionalHeader: &astits.PESOptionalHeader{
					MarkerBits:             2,
					DataAlignmentIndicator: true,
					PTSDTSIndicator:        astits.PTSDTSIndicatorOnlyPTS,
					PTS:                    clock(ps[0].PTS),
				}},
				Data: w.adts,
			},
		}
		if withPCR {
			d.AdaptationField = &astits.PacketAdaptationField{HasPCR: true, PCR: clock(ps[0].PTS - pcrDelay), RandomAccessIndicator: true}
		}
		if _, err := w.mux.WriteData(d); err != nil {
			return fmt.Errorf("write audio PES: %w", err)
		}
		ps = ps[n:]
	}
	return nil
}
