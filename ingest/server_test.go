package ingest

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
)

// source is a 3 s FFmpeg test source as an OBS-like encoder makes it:
// x264 with a keyframe every 2 s and 2 B-frames, AAC 44.1 kHz stereo.
func source(t *testing.T, o testenv.SourceOptions) string {
	if o.Seconds == 0 {
		o.Seconds = 3
	}
	if !o.AudioOnly && o.Width == 0 {
		o.Width, o.Height, o.FPS = 640, 360, 30
	}
	return testenv.GenerateSource(t, o)
}

// TestPublishFile publishes a file with the ffmpeg CLI (-c copy, as fast as
// it goes) and compares what reaches the Sink with what ffprobe reads from
// the file: the same packets, timestamps, keyframes and parameters.
func TestPublishFile(t *testing.T) {
	h := newHarness(t, nil)
	src := source(t, testenv.SourceOptions{Audio: true})

	out, err := ffmpeg(t, 30*time.Second, "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	s := h.sink()
	if err := s.wait(t); err != nil {
		t.Errorf("End(%v), want nil for a clean unpublish", err)
	}
	if s.ch.ID != "ch_alpha" || !strings.HasPrefix(s.info.RemoteAddr, "127.0.0.1:") {
		t.Errorf("Publish got channel %+v from %q", s.ch, s.info.RemoteAddr)
	}
	if got := s.info.Query.Get("twitch"); got != relaySecret || s.info.Query.Get("twitch_bandwidth") != "6000" {
		t.Errorf("PublishInfo.Query = %v, want the relay parameters", s.info.Query)
	}
	if seen := h.auth.keysSeen(); len(seen) != 1 || seen[0] != keyAlpha {
		t.Errorf("Authenticate got %q, want the key alone", seen)
	}

	v, a, packets := s.received()
	checkVideoParams(t, v, 640, 360, media.Rational{Num: 30, Den: 1})
	if a == nil || a.Codec != media.AAC || a.SampleRate != 44100 || a.Channels != 2 {
		t.Errorf("audio params %+v, want AAC 44.1 kHz stereo", a)
	}
	checkPackets(t, packets, true)
	compareWithProbe(t, packets, src)
}

// TestPublishEncoding publishes what the ffmpeg CLI encodes as it goes, with
// 48 kHz audio and the frame rate in onMetaData.
func TestPublishEncoding(t *testing.T) {
	h := newHarness(t, nil)
	out, err := ffmpeg(t, 30*time.Second,
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-bf", "2", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2", "-f", "flv", h.url("stream", keyBravo))
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	s := h.sink()
	if err := s.wait(t); err != nil {
		t.Errorf("End(%v), want nil", err)
	}
	v, a, packets := s.received()
	checkVideoParams(t, v, 640, 360, media.Rational{Num: 30, Den: 1})
	if a == nil || a.SampleRate != 48000 || a.Channels != 2 {
		t.Errorf("audio params %+v, want 48 kHz stereo", a)
	}
	checkPackets(t, packets, true)
	var nv, na int
	for _, p := range packets {
		if p.Kind == media.Video {
			nv++
		} else {
			na++
		}
	}
	// 2 s at 30 fps; AAC frames of 1024 samples at 48 kHz (plus priming).
	if nv != 60 || na < 93 || na > 97 {
		t.Errorf("%d video and %d audio packets, want 60 and about 94", nv, na)
	}
}

func TestPublishAudioOnly(t *testing.T) {
	h := newHarness(t, nil)
	src := source(t, testenv.SourceOptions{AudioOnly: true})
	if out, err := ffmpeg(t, 30*time.Second, "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha)); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	s := h.sink()
	if err := s.wait(t); err != nil {
		t.Errorf("End(%v)", err)
	}
	v, a, packets := s.received()
	if v != nil || a == nil || a.SampleRate != 44100 {
		t.Fatalf("Start(%+v, %+v), want audio only", v, a)
	}
	want := len(testenv.ProbePackets(t, src, "a"))
	if len(packets) != want {
		t.Errorf("%d packets, want the file's %d", len(packets), want)
	}
	checkPackets(t, packets, false)
}

func TestPublishVideoOnly(t *testing.T) {
	h := newHarness(t, nil)
	src := source(t, testenv.SourceOptions{Audio: true})
	if out, err := ffmpeg(t, 30*time.Second, "-i", src, "-an", "-c", "copy", "-f", "flv", h.url("stream", keyAlpha)); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	s := h.sink()
	if err := s.wait(t); err != nil {
		t.Errorf("End(%v)", err)
	}
	v, a, packets := s.received()
	if a != nil {
		t.Fatalf("Start with audio %+v, want video only", a)
	}
	checkVideoParams(t, v, 640, 360, media.Rational{Num: 30, Den: 1})
	if len(packets) != 90 {
		t.Errorf("%d packets, want 90", len(packets))
	}
	checkPackets(t, packets, true)
}

// TestConcurrentPublishes publishes two streams at once: each Sink gets
// its own channel, parameters and packets.
func TestConcurrentPublishes(t *testing.T) {
	h := newHarness(t, nil)
	small := source(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 25, Audio: true})
	large := source(t, testenv.SourceOptions{Audio: true})
	a := startFFmpeg(t, 30*time.Second, "-re", "-i", small, "-t", "1.5", "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	b := startFFmpeg(t, 30*time.Second, "-re", "-i", large, "-t", "1.5", "-c", "copy", "-f", "flv", h.url("stream", keyBravo))
	sinks := map[string]*testSink{}
	for range 2 {
		s := h.sink()
		sinks[s.ch.ID] = s
	}
	if err := waitExit(t, a, 20*time.Second); err != nil {
		t.Errorf("ffmpeg alpha: %v", err)
	}
	if err := waitExit(t, b, 20*time.Second); err != nil {
		t.Errorf("ffmpeg bravo: %v", err)
	}
	for id, want := range map[string]struct {
		w, h, fps int
	}{"ch_alpha": {320, 240, 25}, "ch_bravo": {640, 360, 30}} {
		s := sinks[id]
		if s == nil {
			t.Fatalf("no publish for %s", id)
		}
		if err := s.wait(t); err != nil {
			t.Errorf("%s: End(%v)", id, err)
		}
		v, _, packets := s.received()
		checkVideoParams(t, v, want.w, want.h, media.Rational{Num: want.fps, Den: 1})
		checkPackets(t, packets, true)
		n := 0
		for _, p := range packets {
			if p.Kind == media.Video {
				n++
			}
		}
		if lo := want.fps * 3 / 2; n < lo || n > lo+3 { // -t cuts by PTS: B-frames bring a few more
			t.Errorf("%s: %d video packets, want about %d (1.5 s)", id, n, lo)
		}
	}
}

func checkVideoParams(t *testing.T, v *media.VideoParams, w, h int, rate media.Rational) {
	t.Helper()
	if v == nil {
		t.Fatal("no video params")
	}
	if v.Codec != media.H264 || v.Width != w || v.Height != h || v.FrameRate != rate {
		t.Errorf("video params %s %dx%d %v, want h264 %dx%d %v", v.Codec, v.Width, v.Height, v.FrameRate, w, h, rate)
	}
	if _, err := h264.ParseAVCConfig(v.Extradata); err != nil {
		t.Errorf("Extradata is no avcC: %v", err)
	}
}

// checkPackets checks what any good publish delivers: AVCC video that
// starts on a keyframe, with B-frames (PTS ≥ DTS, some after), keyframes
// every 2 s, timestamps rising per track, audio interleaved with video.
func checkPackets(t *testing.T, packets []*media.Packet, video bool) {
	t.Helper()
	if len(packets) == 0 {
		t.Fatal("no packets")
	}
	var lastV, lastA *media.Packet
	var keyframes []int64
	reordered := false
	for i, p := range packets {
		switch p.Kind {
		case media.Video:
			if lastV == nil && !p.Keyframe {
				t.Errorf("packet %d: the first video packet is not a keyframe", i)
			}
			if lastV != nil && p.DTS <= lastV.DTS {
				t.Errorf("packet %d: video DTS %d after %d", i, p.DTS, lastV.DTS)
			}
			if p.PTS < p.DTS {
				t.Errorf("packet %d: PTS %d before DTS %d", i, p.PTS, p.DTS)
			}
			reordered = reordered || p.PTS > p.DTS
			if _, err := h264.SplitAVCC(p.Data, 4); err != nil {
				t.Errorf("packet %d: %v", i, err)
			}
			if p.Keyframe {
				keyframes = append(keyframes, p.DTS)
			}
			lastV = p
		case media.Audio:
			if lastA != nil && p.DTS <= lastA.DTS {
				t.Errorf("packet %d: audio DTS %d after %d", i, p.DTS, lastA.DTS)
			}
			if lastV != nil && math.Abs(float64(p.DTS-lastV.DTS)) > media.ClockRate/2 {
				t.Errorf("packet %d: audio at %v, video at %v: not interleaved", i, media.Duration(p.DTS), media.Duration(lastV.DTS))
			}
			if !p.Keyframe || p.PTS != p.DTS || len(p.Data) == 0 {
				t.Errorf("packet %d: audio %+v", i, p)
			}
			lastA = p
		}
	}
	if !video {
		if lastV != nil {
			t.Error("video packets in an audio-only publish")
		}
		return
	}
	if !reordered {
		t.Error("no packet with PTS after DTS: the B-frames' reordering was lost")
	}
	for i := 1; i < len(keyframes); i++ {
		if d := keyframes[i] - keyframes[i-1]; d < media.Ticks(1900*time.Millisecond) || d > media.Ticks(2100*time.Millisecond) {
			t.Errorf("keyframes %v apart, want 2 s", media.Duration(d))
		}
	}
	if len(keyframes) < 1 {
		t.Error("no keyframe")
	}
}

// compareWithProbe checks the video packets against ffprobe's reading of
// the source: count, keyframe flags, DTS steps and composition times (in
// FLV's milliseconds), and the audio packet count.
func compareWithProbe(t *testing.T, packets []*media.Packet, src string) {
	t.Helper()
	var video []*media.Packet
	audio := 0
	for _, p := range packets {
		if p.Kind == media.Video {
			video = append(video, p)
		} else {
			audio++
		}
	}
	probed := testenv.ProbePackets(t, src, "v")
	if len(video) != len(probed) {
		t.Fatalf("%d video packets, the file has %d", len(video), len(probed))
	}
	msOf := func(s string) int64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("ffprobe time %q: %v", s, err)
		}
		return int64(math.Round(f * 1000))
	}
	dts0 := msOf(probed[0].DTSTime)
	for i, p := range video {
		pr := probed[i]
		if p.Keyframe != strings.HasPrefix(pr.Flags, "K") {
			t.Errorf("video packet %d: keyframe %v, ffprobe flags %q", i, p.Keyframe, pr.Flags)
		}
		if got, want := (p.DTS-video[0].DTS)/ms, msOf(pr.DTSTime)-dts0; got != want {
			t.Errorf("video packet %d: DTS +%d ms, ffprobe +%d ms", i, got, want)
		}
		if got, want := (p.PTS-p.DTS)/ms, msOf(pr.PTSTime)-msOf(pr.DTSTime); got != want {
			t.Errorf("video packet %d: composition time %d ms, ffprobe %d ms", i, got, want)
		}
		if sz, _ := strconv.Atoi(pr.Size); len(p.Data) != sz {
			t.Errorf("video packet %d: %d bytes, ffprobe %d", i, len(p.Data), sz)
		}
	}
	if want := len(testenv.ProbePackets(t, src, "a")); audio != want {
		t.Errorf("%d audio packets, the file has %d", audio, want)
	}
}

// TestWritePacketError ends the publish with the Sink's error.
func TestWritePacketError(t *testing.T) {
	h := newHarness(t, nil)
	full := errors.New("pipeline over capacity")
	h.handler.set(nil, func(s *testSink) {
		s.writeErr = func(n int) error {
			if n >= 5 {
				return full
			}
			return nil
		}
	})
	src := source(t, testenv.SourceOptions{Audio: true})
	cmd := startFFmpeg(t, 30*time.Second, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	s := h.sink()
	if err := s.wait(t); !errors.Is(err, full) {
		t.Errorf("End(%v), want the Sink's error", err)
	}
	if err := waitExit(t, cmd, 10*time.Second); err == nil {
		t.Error("ffmpeg exited cleanly from a publish the server ended")
	}
}
