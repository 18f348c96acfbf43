package srt

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestGStreamerPublish: GStreamer's srtsink (a live H.264 or HEVC encoder
// and AAC, muxed by mpegtsmux in 7-packet buffers: one SRT payload each, as
// SRT wants) publishes with its streamid property; the
// Sink starts with both tracks and gets the frames.
func TestGStreamerPublish(t *testing.T) {
	gst := testenv.NeedTool(t, "gst-launch-1.0")
	for _, c := range []struct {
		name, encoder string
		want          media.VideoCodec
	}{
		{"h264", "x264enc tune=zerolatency speed-preset=veryfast key-int-max=60 ! h264parse", media.H264},
		{"hevc", "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=60 ! h265parse", media.HEVC},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			pipeline := "videotestsrc is-live=true num-buffers=90 ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! " +
				c.encoder + " ! queue ! mpegtsmux name=m alignment=7 ! srtsink uri=srt://" + h.addr + " streamid=#!::r=stream/" + keyAlpha + ",m=publish " +
				"audiotestsrc is-live=true num-buffers=129 samplesperbuffer=1024 ! audio/x-raw,rate=44100,channels=2 ! voaacenc ! aacparse ! queue ! m."
			done := runClient(t, exec.Command(gst, append([]string{"-q", "-e"}, strings.Fields(pipeline)...)...))
			s := h.sink(10 * time.Second)
			if err := done(); err != nil {
				t.Errorf("gst-launch: %v", err)
			}
			if err := s.wait(t, 15*time.Second); err != nil {
				t.Errorf("publish ended with %v, want a clean end", err)
			}
			s.mu.Lock()
			v, a := s.video, s.audio
			s.mu.Unlock()
			if v == nil || v.Codec != c.want || v.Width != 640 || v.Height != 360 || v.FrameRate.Float() != 30 {
				t.Errorf("video params %+v", v)
			}
			if a == nil || a.Codec != media.AAC || a.SampleRate != 44100 {
				t.Errorf("audio params %+v", a)
			}
			if n := s.count(media.Video); n < 80 {
				t.Errorf("%d video packets, want ~90", n)
			}
		})
	}
}
