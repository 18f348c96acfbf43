package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/h264"
)

// sourceArgs is bench/live.sh's ffmpeg command, without the output file: a
// camera-like 720p30 stream as OBS sends it (x264 veryfast at 4.5 Mbit/s, a
// keyframe every 2 s, AAC 48 kHz stereo), 30 s, looped by the feeders.
var sourceArgs = []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
	"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=20:allf=t",
	"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-ac", "2",
	"-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-bf", "2",
	"-b:v", "4500k", "-maxrate", "4500k", "-bufsize", "9000k",
	"-c:a", "aac", "-b:a", "160k", "-f", "flv"}

// generateSource makes path with sourceArgs unless it exists already. It
// writes a temporary file and renames it, so that an interrupted run leaves
// no half-written source behind.
func generateSource(ffmpeg, path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	out, err := exec.Command(ffmpeg, append(sourceArgs, tmp)...).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("generate %s: %v: %s", path, err, out)
	}
	return os.Rename(tmp, path)
}

// source is a stream read from an FLV file, in memory, fed to relays in a
// loop.
type source struct {
	video   *media.VideoParams
	audio   *media.AudioParams
	packets []*media.Packet // in file order: by DTS
	// keyframes are the indexes in packets of the video keyframes: where a
	// feeder may start.
	keyframes []int
	// period is the time from the first packet to the first packet of the
	// next loop: the packets' span plus one video frame.
	period int64
	bytes  int64 // of the packets' payloads, one loop
}

// loadSource reads an FLV file of H.264 and AAC.
func loadSource(path string) (*source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := readFLV(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s, err := newSource(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return s, nil
}

// newSource takes the codec parameters from the sequence headers and
// checks there is something to loop.
func newSource(f *flvFile) (*source, error) {
	if f.avcC == nil || f.asc == nil {
		return nil, errors.New("want H.264 video and AAC audio, each with its sequence header")
	}
	cfg, err := h264.ParseAVCConfig(f.avcC)
	if err != nil {
		return nil, err
	}
	sps, err := h264.ParseSPS(cfg.SPS[0])
	if err != nil {
		return nil, err
	}
	ac, err := aac.ParseConfig(f.asc)
	if err != nil {
		return nil, err
	}
	s := &source{
		video: &media.VideoParams{Codec: media.H264, Width: sps.Width, Height: sps.Height,
			FrameRate: media.Rational{Num: int(sps.FrameRate * 1000), Den: 1000}, Extradata: f.avcC},
		audio:   &media.AudioParams{Codec: media.AAC, SampleRate: ac.SampleRate, Channels: ac.Channels, Extradata: f.asc},
		packets: f.packets,
	}
	if len(s.packets) == 0 {
		return nil, errors.New("no packets")
	}
	var first, last int64 // of the video
	frames := 0
	lo, hi := s.packets[0].DTS, s.packets[0].DTS // of every packet
	for i, p := range s.packets {
		s.bytes += int64(len(p.Data))
		lo, hi = min(lo, p.DTS), max(hi, p.DTS)
		if p.Kind != media.Video {
			continue
		}
		if frames == 0 {
			first = p.DTS
		}
		last = p.DTS
		frames++
		if p.Keyframe {
			s.keyframes = append(s.keyframes, i)
		}
	}
	if frames < 2 || len(s.keyframes) == 0 || last <= first {
		return nil, fmt.Errorf("%d video frames, %d keyframes: too short to loop", frames, len(s.keyframes))
	}
	// The next loop starts one mean frame duration after the last packet,
	// so that timestamps never go back.
	s.period = hi - lo + (last-first)/int64(frames-1)
	return s, nil
}

// seconds is the length of one loop.
func (s *source) seconds() float64 { return float64(s.period) / media.ClockRate }

// cursor walks a source in a loop from a keyframe, with timestamps that go
// on from loop to loop.
type cursor struct {
	s      *source
	i      int   // the next packet
	offset int64 // added to the next packet's timestamps
	zero   int64 // the DTS of the first packet walked
}

// cursor starts at the source's k-th keyframe (modulo their number).
func (s *source) cursor(k int) *cursor {
	i := s.keyframes[k%len(s.keyframes)]
	return &cursor{s: s, i: i, zero: s.packets[i].DTS}
}

// next returns the next packet, a new one the caller may share, and its
// time in ticks from the first.
func (c *cursor) next() (*media.Packet, int64) {
	src := c.s.packets[c.i]
	p := *src
	p.DTS += c.offset
	p.PTS += c.offset
	c.i++
	if c.i == len(c.s.packets) {
		c.i = 0
		c.offset += c.s.period
	}
	return &p, p.DTS - c.zero
}

// flvFile is what readFLV takes from an FLV file: the last sequence header
// of each track and the H.264 and AAC packets.
type flvFile struct {
	avcC, asc []byte
	packets   []*media.Packet
}

// FLV tag types, codec ids and packet types that readFLV reads; it skips
// every other tag.
const (
	flvTagAudio = 8
	flvTagVideo = 9
	flvCodecAVC = 7
	flvSoundAAC = 10
	flvAVCSeq   = 0
	flvAVCNALU  = 1
	flvAACSeq   = 0
	flvAACRaw   = 1
	flvKeyframe = 1
)

// readFLV is a small FLV reader for H.264 and AAC: enough to feed a relay.
// Packets' Data are slices of b.
func readFLV(b []byte) (*flvFile, error) {
	if len(b) < 9 || string(b[:3]) != "FLV" {
		return nil, errors.New("not an FLV file")
	}
	hdr := binary.BigEndian.Uint32(b[5:9])
	if hdr < 9 || uint64(hdr)+4 > uint64(len(b)) {
		return nil, fmt.Errorf("FLV header of %d bytes in a file of %d", hdr, len(b))
	}
	b = b[hdr+4:] // the header, then PreviousTagSize0
	f := &flvFile{}
	for len(b) > 0 {
		if len(b) < 11 {
			return nil, fmt.Errorf("truncated tag header: %d bytes", len(b))
		}
		typ := b[0] & 0x1f // the top bits are reserved and the filter flag
		size := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		ts := int64(uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]))
		if len(b) < 11+size {
			return nil, fmt.Errorf("truncated tag: %d bytes of %d", len(b)-11, size)
		}
		body := b[11 : 11+size]
		b = b[11+size:]
		if len(b) >= 4 { // PreviousTagSize; the last may be missing
			b = b[4:]
		} else {
			b = nil
		}
		dts := ts * (media.ClockRate / 1000)
		switch {
		case typ == flvTagVideo && len(body) >= 5 && body[0]&0x0f == flvCodecAVC:
			cts := int64(int32(uint32(body[2])<<24|uint32(body[3])<<16|uint32(body[4])<<8) >> 8)
			switch body[1] {
			case flvAVCSeq:
				f.avcC = body[5:]
			case flvAVCNALU:
				f.packets = append(f.packets, &media.Packet{Kind: media.Video, DTS: dts,
					PTS: dts + cts*(media.ClockRate/1000), Keyframe: body[0]>>4 == flvKeyframe, Data: body[5:]})
			}
		case typ == flvTagAudio && len(body) >= 2 && body[0]>>4 == flvSoundAAC:
			switch body[1] {
			case flvAACSeq:
				f.asc = body[2:]
			case flvAACRaw:
				f.packets = append(f.packets, &media.Packet{Kind: media.Audio, DTS: dts, PTS: dts, Keyframe: true, Data: body[2:]})
			}
		}
	}
	return f, nil
}
