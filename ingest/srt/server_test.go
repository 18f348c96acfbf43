package srt

import (
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestFFmpegPublish: the ffmpeg CLI (libsrt) publishes H.264+AAC and
// HEVC+AAC in each stream id form; the Sink starts with the right codecs,
// size and measured or SPS frame rate, gets every frame from a keyframe on
// with monotonic DTS and PTS ≥ DTS, and a clean end.
func TestFFmpegPublish(t *testing.T) {
	for _, c := range []struct {
		name, codec, streamID string
		want                  media.VideoCodec
	}{
		{"h264", "libx264", "#!::r=stream/" + keyAlpha + ",m=publish", media.H264},
		{"hevc", "libx265", keyAlpha, media.HEVC},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 3, Audio: true, Format: "mpegts", VideoCodec: c.codec})
			done := publishFFmpeg(t, src, h.url(c.streamID))
			s := h.sink(10 * time.Second)
			if s.ch.ID != "ch_alpha" {
				t.Errorf("channel %q", s.ch.ID)
			}
			if err := s.wait(t, 20*time.Second); err != nil {
				t.Errorf("publish ended with %v, want a clean end", err)
			}
			if err := done(); err != nil {
				t.Errorf("ffmpeg: %v", err)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			v, a := s.video, s.audio
			if v == nil || v.Codec != c.want || v.Width != 640 || v.Height != 360 || v.FrameRate.Float() != 30 {
				t.Errorf("video params %+v", v)
			}
			if a == nil || a.Codec != media.AAC || a.SampleRate != 44100 || a.Channels != 2 || len(a.Extradata) != 2 {
				t.Errorf("audio params %+v", a)
			}
			var video, audio int
			var lastDTS int64
			for i, p := range s.packets {
				switch p.Kind {
				case media.Video:
					if video == 0 && !p.Keyframe {
						t.Errorf("first video packet is not a keyframe")
					}
					if video > 0 && p.DTS <= lastDTS {
						t.Errorf("video packet %d: DTS %d after %d", i, p.DTS, lastDTS)
					}
					if p.PTS < p.DTS {
						t.Errorf("video packet %d: PTS %d < DTS %d", i, p.PTS, p.DTS)
					}
					lastDTS = p.DTS
					video++
				case media.Audio:
					audio++
				}
			}
			// 3 s: 90 frames; 44100 Hz / 1024: 129 AAC frames. libsrt
			// does not linger in live mode: what the caller had not sent
			// when ffmpeg closed (about its latency, 120 ms) is lost.
			if video < 84 || video > 90 || audio < 110 || audio > 130 {
				t.Errorf("%d video and %d audio packets, want 84–90 and 110–130", video, audio)
			}
		})
	}
}
