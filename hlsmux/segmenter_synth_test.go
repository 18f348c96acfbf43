package hlsmux

import (
	"encoding/binary"
	"path"
	"slices"
	"testing"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/h264"
)

// Synthetic media for the segmenter's tests, and checks of what it wrote.

const (
	fps        = 30
	frameTicks = media.ClockRate / fps
	aacTicks   = 1024 * media.ClockRate / 48000 // 1920
)

var stereo48k = &aac.Config{ObjectType: 2, SampleRate: 48000, Channels: 2}

// synthVideo returns seconds of 30 fps access units in DTS order, shaped as
// libx264 writes them (AUD; SPS and PPS before each IDR), with an IDR every
// gop frames starting at PTS start. With bframes, each closed GOP is coded
// I P B P B … (a B frame after the P it precedes), so PTS and DTS differ.
// The NAL payloads are filler that holds no start code.
func synthVideo(start int64, seconds float64, gop int, bframes bool) []*media.Packet {
	n := int(seconds * fps)
	var out []*media.Packet
	for g := 0; g < n; g += gop {
		size := min(gop, n-g)
		order := []int{0} // display indexes within the GOP, in decode order
		for i := 1; i < size; i++ {
			if bframes && i+1 < size && i%2 == 1 {
				order = append(order, i+1, i)
				i++
				continue
			}
			order = append(order, i)
		}
		for _, d := range order {
			idx := g + d
			p := &media.Packet{Kind: media.Video, PTS: start + int64(idx)*frameTicks, Keyframe: d == 0}
			// DTS runs one frame behind the decode position when there are B
			// frames, so that DTS <= PTS.
			p.DTS = start + int64(len(out))*frameTicks
			if bframes {
				p.DTS -= frameTicks
			}
			p.Data = synthAU(idx, d == 0)
			out = append(out, p)
		}
	}
	return out
}

func synthAU(idx int, key bool) []byte {
	fill := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x80 | (idx+i)%0x7f)
		}
		return b
	}
	aud := []byte{0x09, 0xf0}
	if key {
		return h264.AppendAnnexB(nil, aud, []byte{0x67, 0x4d, 0x40, 0x1f, 0xec}, []byte{0x68, 0xef, 0xbc, 0x80},
			append([]byte{0x65, 0x88}, fill(6000+idx%7*100)...))
	}
	return h264.AppendAnnexB(nil, aud, append([]byte{0x41, 0x9a}, fill(900+idx%5*200)...))
}

// synthAudio returns AAC frames (48 kHz) from start on; each payload
// begins with the frame's index, so tests can follow it.
func synthAudio(start int64, seconds float64) []*media.Packet {
	var out []*media.Packet
	for i := 0; int64(i)*aacTicks < int64(seconds*media.ClockRate); i++ {
		data := make([]byte, 300+i%3*20)
		binary.BigEndian.PutUint32(data, uint32(i))
		pts := start + int64(i)*aacTicks
		out = append(out, &media.Packet{Kind: media.Audio, PTS: pts, DTS: pts, Keyframe: true, Data: data})
	}
	return out
}

func audioIndex(payload []byte) int { return int(binary.BigEndian.Uint32(payload)) }

// feed interleaves video and audio as the pipeline does: each audio frame
// comes before the video whose DTS is lead earlier than its PTS.
func feed(t testing.TB, s *Segmenter, video, audio []*media.Packet, lead int64) {
	t.Helper()
	ai := 0
	for _, v := range video {
		for ai < len(audio) && audio[ai].PTS <= v.DTS+lead {
			if err := s.WriteAudio(audio[ai]); err != nil {
				t.Fatal(err)
			}
			ai++
		}
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	for ; ai < len(audio); ai++ {
		if err := s.WriteAudio(audio[ai]); err != nil {
			t.Fatal(err)
		}
	}
}

// collect records OnSegment calls.
type collect struct{ infos []SegmentInfo }

func (c *collect) add(i SegmentInfo) { c.infos = append(c.infos, i) }

// parsedSegment is one stored segment, read back.
type parsedSegment struct {
	info SegmentInfo
	pkts []tsPacket
	pes  []*tsPES
}

func readSegments(t *testing.T, st Store, dir string, infos []SegmentInfo) []parsedSegment {
	t.Helper()
	var out []parsedSegment
	for _, info := range infos {
		data, err := st.Get(path.Join(dir, info.Name))
		if err != nil {
			t.Fatalf("segment %s: %v", info.Name, err)
		}
		if len(data) != info.Size {
			t.Errorf("segment %s: %d bytes, SegmentInfo.Size %d", info.Name, len(data), info.Size)
		}
		pkts := parseTSPackets(t, data)
		out = append(out, parsedSegment{info: info, pkts: pkts, pes: parsePES(t, pkts)})
	}
	return out
}

// checkVideoSegment checks a segment's start (PAT, PMT, then the PES of an
// IDR access unit at StartPTS) and every video PES's header.
func checkVideoSegment(t *testing.T, s parsedSegment, keyframes map[int64]bool) {
	t.Helper()
	name := s.info.Name
	if len(s.pkts) < 3 || s.pkts[0].pid != 0 || s.pkts[1].pid != 0x1000 {
		t.Fatalf("%s: does not start with PAT, PMT", name)
	}
	first := s.pes[0]
	if first.index != 2 || first.pid != pidVideo || !first.rai {
		t.Errorf("%s: third packet is not the start of a video PES with random_access_indicator: %+v", name, first)
	}
	if first.pts != s.info.StartPTS {
		t.Errorf("%s: first PES PTS %d, StartPTS %d", name, first.pts, s.info.StartPTS)
	}
	nals, err := h264.SplitAnnexB(first.data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var types []uint8
	for _, n := range nals {
		types = append(types, h264.NALType(n))
	}
	if !slices.Equal(types, []uint8{9, 7, 8, 5}) {
		t.Errorf("%s: first access unit has NAL types %v, want AUD, SPS, PPS, IDR", name, types)
	}
	for _, p := range s.pes {
		if p.pid != pidVideo {
			continue
		}
		if p.streamID != streamIDVideo || p.pcr < 0 || p.pcr != (p.dts-pcrDelay)&tsClockMask {
			t.Errorf("%s: video PES at DTS %d: stream id %#x, PCR %d", name, p.dts, p.streamID, p.pcr)
		}
		if p.hasDTS != (p.pts != p.dts) {
			t.Errorf("%s: video PES PTS %d DTS %d: DTS written %v", name, p.pts, p.dts, p.hasDTS)
		}
		if p.rai != keyframes[p.pts] {
			t.Errorf("%s: video PES PTS %d: random_access_indicator %v", name, p.pts, p.rai)
		}
	}
}

// audioFrame is one ADTS frame found in a segment.
type audioFrame struct {
	index int
	seg   int
	after int // video PESs written before it, over all segments
}

// checkAudioPES checks each audio PES (stream id, up to max frames, PTS of
// its first frame) and returns its frames in order.
func checkAudioPES(t *testing.T, segs []parsedSegment, audio []*media.Packet, max int) []audioFrame {
	t.Helper()
	var out []audioFrame
	videos := 0
	for si, s := range segs {
		for _, p := range s.pes {
			if p.pid == pidVideo {
				videos++
				continue
			}
			if p.streamID != streamIDAudio {
				t.Errorf("%s: audio PES stream id %#x", s.info.Name, p.streamID)
			}
			b, n := p.data, 0
			for len(b) > 0 {
				h, payload, rest, err := aac.ParseADTS(b)
				if err != nil {
					t.Fatalf("%s: %v", s.info.Name, err)
				}
				if h.Config != *stereo48k {
					t.Errorf("%s: ADTS config %+v", s.info.Name, h.Config)
				}
				i := audioIndex(payload)
				if n == 0 && audio[i].PTS != p.pts {
					t.Errorf("%s: audio PES PTS %d, its first frame's %d", s.info.Name, p.pts, audio[i].PTS)
				}
				out = append(out, audioFrame{index: i, seg: si, after: videos})
				b, n = rest, n+1
			}
			if n > max {
				t.Errorf("%s: audio PES of %d frames, want at most %d", s.info.Name, n, max)
			}
		}
	}
	return out
}
