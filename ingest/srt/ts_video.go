package srt

import (
	"bytes"
	"fmt"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
	"github.com/livestream/livestream/media/h265"
)

// maxParamSet bounds a parameter set we keep: real ones are tens of bytes.
const maxParamSet = 4 << 10

// videoTrack is the state of the video stream: its PID, codec, and the
// parameter sets last seen in band (MPEG-TS has no sequence header: an
// encoder repeats them before each keyframe).
type videoTrack struct {
	pid   uint16 // 0: none (PID 0 is the PAT's)
	codec media.VideoCodec
	// vps (HEVC), sps and pps are the parameter sets the current params
	// were made of.
	vps, sps, pps []byte
	params        bool
	scratch       [][]byte
}

// change checks a repeated PMT's video stream against the track's.
func (t *videoTrack) change(es *astits.PMTElementaryStream) error {
	if t.pid == 0 {
		return nil // a track that appears later is left out, as over RTMP
	}
	if es == nil || es.ElementaryPID != t.pid || videoCodecs[es.StreamType] != t.codec {
		return fmt.Errorf("the PMT changes the %s video stream: %w", t.codec, ingest.ErrParamsChanged)
	}
	return nil
}

// pes maps one video PES, an access unit in Annex B: H.264 becomes AVCC
// with an avcC record, as RTMP carries it (relays then copy it to FLV
// unchanged); HEVC stays Annex B with its VPS, SPS and PPS as Annex B
// extradata, which FFmpeg's decoder reads as well as an hvcC.
func (t *videoTrack) pes(m *tsMapper, pes *astits.PESData) error {
	dts, pts, err := m.timestamps(pes.Header)
	if err != nil {
		return err
	}
	nals, err := h264.SplitAnnexB(pes.Data)
	if err != nil {
		return fmt.Errorf("%s access unit: %v: %w", t.codec, err, errMalformed)
	}
	var key bool
	var data []byte
	switch t.codec {
	case media.H264:
		key, data, err = t.h264(m.pub, nals)
	case media.HEVC:
		key, data, err = t.hevc(m.pub, nals, pes.Data)
	}
	if err != nil || data == nil {
		return err
	}
	return m.pub.WritePacket(&media.Packet{Kind: media.Video, DTS: dts, PTS: pts, Keyframe: key, Data: data})
}

// h264 takes an H.264 access unit's NAL units: new SPS or PPS make new
// params; the frame is returned in AVCC (4-byte lengths) without its
// access unit delimiter, or nil before the first SPS and PPS.
func (t *videoTrack) h264(pub publisher, nals [][]byte) (key bool, avcc []byte, err error) {
	sps, pps := t.sps, t.pps
	size := 0
	for _, n := range nals {
		switch h264.NALType(n) {
		case h264.NALTypeSPS:
			sps = n
		case h264.NALTypePPS:
			pps = n
		case h264.NALTypeAUD:
			continue
		}
		size += 4 + len(n)
	}
	if !bytes.Equal(sps, t.sps) || !bytes.Equal(pps, t.pps) {
		if err := t.setH264(pub, sps, pps); err != nil {
			return false, nil, err
		}
	}
	if !t.params {
		return false, nil, nil // undecodable before its parameter sets
	}
	avcc = make([]byte, 0, size)
	for _, n := range nals {
		if h264.NALType(n) != h264.NALTypeAUD {
			avcc = h264.AppendAVCC(avcc, n)
		}
	}
	if len(avcc) == 0 {
		return false, nil, nil
	}
	return h264.IsKeyframe(nals), avcc, nil
}

// setH264 makes the params of a new SPS and PPS (once both have come).
func (t *videoTrack) setH264(pub publisher, sps, pps []byte) error {
	if sps == nil || pps == nil {
		t.sps, t.pps = bytes.Clone(sps), bytes.Clone(pps) // wait for the other
		return nil
	}
	if len(sps) > maxParamSet || len(pps) > maxParamSet {
		return fmt.Errorf("H.264 parameter set of %d bytes: %w", max(len(sps), len(pps)), errMalformed)
	}
	s, err := h264.ParseSPS(sps)
	if err != nil {
		return fmt.Errorf("H.264 SPS: %v: %w", err, errMalformed)
	}
	cfg := h264.AVCConfig{Profile: sps[1], ProfileCompat: sps[2], Level: sps[3], LengthSize: 4,
		SPS: [][]byte{bytes.Clone(sps)}, PPS: [][]byte{bytes.Clone(pps)}}
	avcC, err := cfg.Marshal()
	if err != nil {
		return fmt.Errorf("H.264 parameter sets: %v: %w", err, errMalformed)
	}
	t.sps, t.pps, t.params = cfg.SPS[0], cfg.PPS[0], true
	p := media.VideoParams{Codec: media.H264, Width: s.Width, Height: s.Height, Extradata: avcC}
	if r := rational(s.FrameRate); media.PlausibleFrameRate(r) {
		p.FrameRate, p.FrameRateSource = r, media.FrameRateSPS
	}
	return pub.SetVideo(p)
}

// hevc takes an HEVC access unit: new VPS, SPS or PPS make new params; the
// frame is returned as it came (Annex B, copied), or nil before the first
// full set.
func (t *videoTrack) hevc(pub publisher, nals [][]byte, au []byte) (key bool, data []byte, err error) {
	vps, sps, pps := t.vps, t.sps, t.pps
	for _, n := range nals {
		switch h265.NALType(n) {
		case h265.NALTypeVPS:
			vps = n
		case h265.NALTypeSPS:
			sps = n
		case h265.NALTypePPS:
			pps = n
		}
	}
	if !bytes.Equal(vps, t.vps) || !bytes.Equal(sps, t.sps) || !bytes.Equal(pps, t.pps) {
		if err := t.setHEVC(pub, vps, sps, pps); err != nil {
			return false, nil, err
		}
	}
	if !t.params {
		return false, nil, nil
	}
	return h265.IsKeyframe(nals), bytes.Clone(au), nil
}

// setHEVC makes the params of a new VPS, SPS and PPS (once all three have
// come).
func (t *videoTrack) setHEVC(pub publisher, vps, sps, pps []byte) error {
	if vps == nil || sps == nil || pps == nil {
		t.vps, t.sps, t.pps = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps) // wait for the rest
		return nil
	}
	if len(vps) > maxParamSet || len(sps) > maxParamSet || len(pps) > maxParamSet {
		return fmt.Errorf("HEVC parameter set of %d bytes: %w", max(len(vps), len(sps), len(pps)), errMalformed)
	}
	s, err := h265.ParseSPS(sps)
	if err != nil {
		return fmt.Errorf("HEVC SPS: %v: %w", err, errMalformed)
	}
	t.vps, t.sps, t.pps, t.params = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps), true
	// The frame rate is measured: the VUI is not parsed (media/h265).
	return pub.SetVideo(media.VideoParams{Codec: media.HEVC, Width: s.Width, Height: s.Height,
		Extradata: h264.AppendAnnexB(nil, t.vps, t.sps, t.pps)})
}

// rational is the SPS's frame rate as a fraction: n/1 or n·1000/1001 when
// it is one of those, else nothing (the publish measures it).
func rational(f float64) media.Rational {
	for _, r := range []media.Rational{{Num: int(f + 0.5), Den: 1}, {Num: int(f*1.001+0.5) * 1000, Den: 1001}} {
		if r.Num > 0 && abs(r.Float()-f) < 1e-3 {
			return r
		}
	}
	return media.Rational{}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
