package relay

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// source is a test stream read from an FLV file that the ffmpeg CLI made.
type source struct {
	video   *media.VideoParams
	audio   *media.AudioParams
	packets []*media.Packet
}

// gopSeconds is testenv's source GOP: a keyframe every 2 s.
const gopSeconds = 2.0

func newSource(t *testing.T, seconds float64) *source {
	t.Helper()
	path := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: seconds, Audio: true})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := readFLV(b)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if s.video == nil || s.audio == nil || len(s.packets) == 0 {
		t.Fatalf("%s: no video, audio or packets", path)
	}
	return s
}

// readFLV is a tiny FLV reader for H.264 and AAC: enough to feed a relay.
func readFLV(b []byte) (*source, error) {
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, fmt.Errorf("not an FLV file")
	}
	b = b[binary.BigEndian.Uint32(b[5:9])+4:]
	s := &source{}
	for len(b) >= 11 {
		typ := b[0]
		size := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		ts := int64(uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]))
		if len(b) < 11+size+4 {
			return nil, fmt.Errorf("truncated tag")
		}
		body := b[11 : 11+size]
		b = b[11+size+4:]
		dts := ts * (media.ClockRate / 1000)
		switch {
		case typ == 9 && len(body) >= 5 && body[0]&0x0f == 7:
			cts := int64(int32(uint32(body[2])<<24|uint32(body[3])<<16|uint32(body[4])<<8) >> 8)
			switch body[1] {
			case 0:
				s.video = &media.VideoParams{Codec: media.H264, Width: 320, Height: 240,
					FrameRate: media.Rational{Num: 30, Den: 1}, Extradata: body[5:]}
			case 1:
				s.packets = append(s.packets, &media.Packet{Kind: media.Video, DTS: dts,
					PTS: dts + cts*(media.ClockRate/1000), Keyframe: body[0]>>4 == 1, Data: body[5:]})
			}
		case typ == 8 && len(body) >= 2 && body[0]>>4 == 10:
			switch body[1] {
			case 0:
				s.audio = &media.AudioParams{Codec: media.AAC, SampleRate: 44100, Channels: 2, Extradata: body[2:]}
			case 1:
				s.packets = append(s.packets, &media.Packet{Kind: media.Audio, DTS: dts, PTS: dts, Keyframe: true, Data: body[2:]})
			}
		}
	}
	return s, nil
}

// duration is the source's length in seconds, by its last video packet.
func (s *source) duration() float64 {
	var last int64
	for _, p := range s.packets {
		last = max(last, p.PTS)
	}
	return float64(last-s.packets[0].DTS) / media.ClockRate
}
