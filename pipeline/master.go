package pipeline

import (
	"fmt"
	"path"
	"sync"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media/h264"
)

// masterWriter writes the master playlist once every rendition knows its
// codec string (from the SPS of its first IDR), and again at the end of a
// VOD with the bandwidths measured from its segments (RFC 8216 §4.3.4.2:
// BANDWIDTH is the peak segment bit rate).
type masterWriter struct {
	g      *Graph
	mu     sync.Mutex
	codecs []string
	known  int
	err    error
}

func newMasterWriter(g *Graph) *masterWriter {
	return &masterWriter{g: g, codecs: make([]string, len(g.planned))}
}

// setCodec is called from rendition i's goroutine with its first IDR.
func (m *masterWriter) setCodec(i int, idr []byte) {
	c := "avc1.4d401f" // main profile, level 3.1: used only if the SPS cannot be read
	if s, err := spsOf(idr); err == nil {
		c = s.CodecString()
	}
	m.setCodecString(i, c)
}

// setCodecString records rendition i's codecs and writes the master once
// every rendition has them.
func (m *masterWriter) setCodecString(i int, c string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.codecs[i] == "" {
		m.known++
	}
	m.codecs[i] = c
	if m.known == len(m.codecs) {
		m.err = m.write(nil)
	}
}

func spsOf(au []byte) (*h264.SPS, error) {
	nals, err := h264.SplitAnnexB(au)
	if err != nil {
		return nil, err
	}
	for _, n := range nals {
		if h264.NALType(n) == h264.NALTypeSPS {
			return h264.ParseSPS(n)
		}
	}
	return nil, fmt.Errorf("no SPS in IDR access unit")
}

// write puts the master playlist. measured, when set, holds each
// rendition's segments; otherwise the configured rates are announced.
func (m *masterWriter) write(measured [][]hlsmux.SegmentInfo) error {
	g := m.g
	vs := make([]hlsmux.Variant, len(g.planned))
	for i, p := range g.planned {
		codecs := m.codecs[i]
		audio := 0
		if g.audioOnly {
			// No RESOLUTION or FRAME-RATE: players take it for audio.
			bw := AudioOnlyBandwidth(p.AudioBitrate)
			avg := bw
			if measured != nil {
				bw, avg = measure(measured[i])
			}
			vs[i] = hlsmux.Variant{Name: p.Name, URI: p.Name + "/index.m3u8", Bandwidth: bw, AverageBandwidth: avg, Codecs: codecs}
			continue
		}
		if g.audioCfg != nil {
			codecs += ",mp4a.40.2"
			audio = int(p.AudioBitrate)
		}
		peak := int(p.MaxRate)
		if peak == 0 {
			peak = int(p.VideoBitrate)
		}
		// MPEG-TS adds about 5–10 % to the elementary streams.
		bw, avg := (peak+audio)*11/10, (int(p.VideoBitrate)+audio)*11/10
		if measured != nil {
			bw, avg = measure(measured[i])
		}
		vs[i] = hlsmux.Variant{
			Name: p.Name, URI: p.Name + "/index.m3u8",
			Bandwidth: bw, AverageBandwidth: avg,
			Width: p.OutWidth, Height: p.OutHeight,
			Codecs: codecs, FrameRate: g.frameRate.Float(),
		}
	}
	if err := g.out.Store.Put(g.out.Master, hlsmux.EncodeMaster(vs)); err != nil {
		return fmt.Errorf("write master playlist %s: %w", path.Base(g.out.Master), err)
	}
	return nil
}

// measure returns the peak and average bit rates of segs.
func measure(segs []hlsmux.SegmentInfo) (peak, avg int) {
	var bytes, dur float64
	for _, s := range segs {
		d := s.Duration.Seconds()
		if d <= 0 {
			continue
		}
		peak = max(peak, int(float64(s.Size)*8/d))
		bytes += float64(s.Size)
		dur += d
	}
	if dur > 0 {
		avg = int(bytes * 8 / dur)
	}
	return peak, avg
}

// finish is called after every rendition has closed its segmenter.
func (m *masterWriter) finish() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.g.audioOnly && m.known == 0 {
		return fmt.Errorf("write master playlist: the %s rendition produced no audio", AudioOnlyName)
	}
	if m.known < len(m.codecs) {
		return fmt.Errorf("write master playlist: %d of %d renditions produced no video", len(m.codecs)-m.known, len(m.codecs))
	}
	if m.g.out.Type != hlsmux.VOD {
		return nil
	}
	segs := make([][]hlsmux.SegmentInfo, len(m.g.planned))
	for i := range segs {
		segs[i] = m.g.segments(i)
	}
	return m.write(segs)
}
