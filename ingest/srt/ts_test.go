package srt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
)

// recorder is a publisher that keeps what the mapper gave it and checks
// the mapper's invariants as it goes.
type recorder struct {
	t         testing.TB
	announced bool
	video     *media.VideoParams
	audio     *media.AudioParams
	packets   []*media.Packet
	skipped   []error
	videoSets int
	audioSets int
}

func (r *recorder) Announce(video, audio bool) { r.announced = true }

func (r *recorder) SetVideo(v media.VideoParams) error {
	r.video = &v
	r.videoSets++
	return nil
}

func (r *recorder) SetAudio(a media.AudioParams) error {
	r.audio = &a
	r.audioSets++
	return nil
}

func (r *recorder) WritePacket(p *media.Packet) error {
	switch {
	case p.Kind == media.Video && r.video == nil, p.Kind == media.Audio && r.audio == nil:
		r.t.Fatalf("%s packet before its params", p.Kind)
	case len(p.Data) == 0:
		r.t.Fatalf("empty %s packet", p.Kind)
	case p.Kind == media.Video && r.video.Codec == media.H264:
		if _, err := h264.SplitAVCC(p.Data, 4); err != nil {
			r.t.Fatalf("H.264 packet is not AVCC: %v", err)
		}
	}
	r.packets = append(r.packets, p)
	return nil
}

func (r *recorder) Skip(err error) { r.skipped = append(r.skipped, err) }

// mapTS demuxes b and maps it, returning what came out and the error that
// ended the mapping (nil at the end of b).
func mapTS(t testing.TB, b []byte) (*recorder, error) {
	r := &recorder{t: t}
	m := newTSMapper(r)
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(b), astits.DemuxerOptPacketSize(astits.MpegTsPacketSize))
	for {
		d, err := dmx.NextData()
		if errors.Is(err, astits.ErrNoMorePackets) {
			return r, nil
		}
		if err != nil {
			return r, err
		}
		if err := m.handle(d); err != nil {
			return r, err
		}
	}
}

// TestMapFiles: the ffmpeg CLI's TS of H.264+AAC and HEVC+AAC maps to
// the right params and every frame: a keyframe first, H.264 as AVCC.
func TestMapFiles(t *testing.T) {
	for _, c := range []struct {
		codec string
		want  media.VideoCodec
	}{{"libx264", media.H264}, {"libx265", media.HEVC}} {
		t.Run(c.codec, func(t *testing.T) {
			src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Audio: true, Format: "mpegts", VideoCodec: c.codec})
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			r, err := mapTS(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if !r.announced || r.video == nil || r.video.Codec != c.want || r.video.Width != 320 || r.video.Height != 180 || r.videoSets != 1 {
				t.Errorf("video params %+v (set %d times)", r.video, r.videoSets)
			}
			if r.audio == nil || r.audio.SampleRate != 44100 || r.audio.Channels != 2 || r.audioSets != 1 {
				t.Errorf("audio params %+v", r.audio)
			}
			var video, audio, keys int
			for _, p := range r.packets {
				if p.Kind == media.Video {
					if video == 0 && !p.Keyframe {
						t.Error("first video packet is not a keyframe")
					}
					if p.Keyframe {
						keys++
					}
					video++
				} else {
					audio++
				}
			}
			// 2 s, a keyframe every 2 s; 44100/1024 AAC frames a second.
			if video != 60 || keys != 1 || audio < 85 || len(r.skipped) != 0 {
				t.Errorf("%d video (%d keyframes), %d audio packets, skipped %v; want 60 (1), ~87, none", video, keys, audio, r.skipped)
			}
		})
	}
}

// TestClockWrap: 33-bit timestamps unwrap across the wrap, forward and
// back, and PTS keeps its offset from DTS across it.
func TestClockWrap(t *testing.T) {
	var c tsClock
	const top = wrap33 - 1
	for i, step := range []struct{ raw, want int64 }{
		{top - 3000, top - 3000},
		{top, top},
		{2999, top + 3000},       // wrapped
		{top - 1000, top - 1000}, // a step back across the wrap (audio behind video)
		{6000, top + 6001},
	} {
		if got := c.unwrap(step.raw); got != step.want {
			t.Errorf("step %d: unwrap(%d) = %d, want %d", i, step.raw, got, step.want)
		}
	}
	if d := step33(100, top-100); d != 201 {
		t.Errorf("PTS 100 after DTS 2³³−101: offset %d, want 201", d)
	}
}

// FuzzMapTS: any bytes demux and map without a panic, and what comes out
// keeps recorder's invariants (params before packets, no empty packet,
// H.264 as valid AVCC); timestamps never jump by more than half the
// 33-bit clock between packets.
func FuzzMapTS(f *testing.F) {
	for _, codec := range []string{"libx264", "libx265"} {
		src := testenv.GenerateSource(f, testenv.SourceOptions{Width: 64, Height: 64, FPS: 10, Seconds: 0.3, Audio: true, Format: "mpegts", VideoCodec: codec})
		b, err := os.ReadFile(src)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := mapTS(t, b)
		for i := 1; i < len(r.packets); i++ {
			if d := r.packets[i].DTS - r.packets[i-1].DTS; d > wrap33/2 || d < -wrap33/2 {
				t.Fatalf("DTS jumps by %d", d)
			}
		}
	})
}

// BenchmarkMapTS is the TS half of the SRT ingest path alone: go-astits
// demuxing 10 s of 720p30 H.264+AAC at 6 Mb/s from memory and the mapper
// making its packets; cpu-s/video-s compares with TestIngestCPU's whole
// path.
func BenchmarkMapTS(b *testing.B) {
	src := testenv.GenerateSource(b, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 10, Audio: true, Format: "mpegts", Noise: true})
	ts, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(ts)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := mapTS(b, ts)
		if err != nil || len(r.packets) < 700 {
			b.Fatalf("%d packets, %v", len(r.packets), err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/10, "cpu-s/video-s")
}

// TestMapMPEGAudio: MP2 and MP3 audio in MPEG-TS (stream types 3 and 4)
// map to one packet per frame with the frames' codec, rate and channels.
func TestMapMPEGAudio(t *testing.T) {
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	for _, c := range []struct {
		encoder string
		want    media.AudioCodec
	}{{"mp2", media.MP2}, {"libmp3lame", media.MP3}} {
		t.Run(c.encoder, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.ts")
			cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:v", "libx264", "-g", "60",
				"-c:a", c.encoder, "-ac", "2", "-b:a", "128k", "-f", "mpegts", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			r, err := mapTS(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if a := r.audio; a == nil || a.Codec != c.want || a.SampleRate != 48000 || a.Channels != 2 || r.audioSets != 1 {
				t.Fatalf("audio params %+v (set %d times)", r.audio, r.audioSets)
			}
			var frames int
			var last int64
			for _, p := range r.packets {
				if p.Kind != media.Audio {
					continue
				}
				if frames > 0 && p.PTS-last != 1152*90000/48000 {
					t.Errorf("frame %d: PTS step %d, want %d", frames, p.PTS-last, 1152*90000/48000)
				}
				last = p.PTS
				frames++
			}
			// 2 s of 1152-sample frames at 48 kHz: 83; the muxer may
			// hold back the last PES.
			if frames < 80 || len(r.skipped) != 0 {
				t.Errorf("%d audio frames (skipped %v), want ~83", frames, r.skipped)
			}
		})
	}
}
