package live

import (
	"context"
	"errors"
	"io"
	"math"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/relay"
)

// startNginx starts nginx-rtmp recording every publish, stopped with the test.
func startNginx(t *testing.T) *nginxrtmp.Server {
	t.Helper()
	testenv.NeedTool(t, "nginx")
	s, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir()})
	if errors.Is(err, nginxrtmp.ErrNotInstalled) && os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
		t.Skipf("%v (LIVESTREAM_ALLOW_SKIP=1)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// readSource reads a whole file into packets.
func readSource(t *testing.T, path string) (*media.VideoParams, *media.AudioParams, []*media.Packet) {
	t.Helper()
	d, err := codec.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var packets []*media.Packet
	for {
		p, err := d.ReadPacket()
		if errors.Is(err, io.EOF) {
			return d.Video, d.Audio, packets
		}
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, p)
	}
}

// publishRealTime feeds packets to s at the pace of their DTS, as a
// camera does, and ends the stream.
func publishRealTime(t *testing.T, s *Publish, video *media.VideoParams, audio *media.AudioParams, packets []*media.Packet) {
	t.Helper()
	if err := s.Start(video, audio); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, p := range packets {
		if d := media.Duration(p.DTS-packets[0].DTS) - time.Since(start); d > 0 {
			time.Sleep(d) // pacing, not synchronisation
		}
		if err := s.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	s.End(nil)
}

// TestTwitchGetsA720p30Reencode: a 1280x720 60 fps publish naming
// ?twitch=KEY reaches the Twitch ingest (nginx-rtmp here) as 1280x720 H.264
// at 30 fps with the audio, from the ladder's one decode, for the whole
// length of the stream.
func TestTwitchGetsA720p30Reencode(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ng := startNginx(t)
	const seconds = 6
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 60, Seconds: seconds, Audio: true})
	video, audio, packets := readSource(t, src)

	cfg := testConfig(t)
	// One cheap rendition: the 720p30 re-encode is the test's subject.
	cfg.Pipeline.Ladder = []pipeline.Rendition{{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, MaxRate: 856_000, BufSize: 1_200_000, AudioBitrate: 96_000}}
	cfg.Relays.Twitch = "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	const key = "live_123456789_abcdefghijklmnop"
	s, err := m.Publish(channel(1), "127.0.0.1:1", url.Values{"twitch": {key}})
	if err != nil {
		t.Fatal(err)
	}
	publishRealTime(t, s, video, audio, packets)

	st := s.Stream().Info().Relays
	if len(st) != 1 || st[0].Kind != "twitch" || !st[0].Transcoded || st[0].ID != "url:twitch" || st[0].PacketsSent == 0 {
		t.Fatalf("relay status %+v", st)
	}
	if err := ng.Stop(); err != nil {
		t.Fatal(err)
	}
	rec := ng.Recording(key)
	p := testenv.Probe(t, rec)
	var gotVideo, gotAudio bool
	for _, s := range p.Streams {
		switch s.CodecType {
		case "video":
			gotVideo = true
			if s.CodecName != "h264" || s.Width != 1280 || s.Height != 720 {
				t.Errorf("Twitch got %s %dx%d, want h264 1280x720", s.CodecName, s.Width, s.Height)
			}
		case "audio":
			gotAudio = s.CodecName == "aac"
		}
	}
	if !gotVideo || !gotAudio {
		t.Fatalf("Twitch recording has video %v, AAC audio %v: %+v", gotVideo, gotAudio, p.Streams)
	}
	frames := testenv.ProbePackets(t, rec, "v:0")
	dropped := st[0].Dropped
	t.Logf("Twitch got %d frames; relay %+v", len(frames), st[0])
	// 30 fps for the stream's length, less the pictures a busy machine made
	// the relay drop (it drops rather than slow the ladder).
	if n := int64(len(frames)); n+dropped < 30*seconds-2 || n > 30*seconds+2 || dropped > 30*seconds/10 {
		t.Errorf("Twitch got %d frames (%d dropped) of a %d s stream, want %d at 30 fps", n, dropped, seconds, 30*seconds)
	}
	// Every frame on the 30 fps grid: the 60 fps source is halved evenly.
	var keys []float64
	for i, f := range frames {
		ts, _ := strconv.ParseFloat(f.DTSTime, 64)
		if i > 0 {
			prev, _ := strconv.ParseFloat(frames[i-1].DTSTime, 64)
			if slots := (ts - prev) * 30; slots < 0.95 || math.Abs(slots-math.Round(slots)) > 0.06 {
				t.Errorf("frames %d and %d are %.1f ms apart: not on a 30 fps grid", i-1, i, (ts-prev)*1000)
			}
		}
		if f.Flags[0] == 'K' {
			keys = append(keys, ts)
		}
	}
	// A keyframe every 2 s (x264 counts 60 frames; drops stretch it).
	for i := 1; i < len(keys); i++ {
		if d := keys[i] - keys[i-1]; d < 1.99 || d > 2.01+float64(dropped)/30 {
			t.Errorf("keyframes %.3f s apart, want 2 s: %v", d, keys)
		}
	}
	if len(keys) < seconds/2-1 {
		t.Errorf("keyframes at %v in %d s, want one every 2 s", keys, seconds)
	}
}

// TestEncodedRelayInterleaves: audio that arrives ahead of the encoder's
// video waits for it, audio from before the first picture is dropped, and
// a full wait list sends its oldest rather than grow.
func TestEncodedRelayInterleaves(t *testing.T) {
	e := &encodedRelay{audio: &media.AudioParams{Codec: media.AAC}}
	for i := range maxPendingAudio + 10 {
		e.WritePacket(&media.Packet{Kind: media.Audio, DTS: int64(i) * 1920, Keyframe: true})
	}
	if len(e.pending) != maxPendingAudio || e.dropped.Load() != 10 || e.pending[0].DTS != 10*1920 {
		t.Errorf("before the first picture: %d pending (first DTS %d), %d dropped; want %d, 10", len(e.pending), e.pending[0].DTS, e.dropped.Load(), maxPendingAudio)
	}
	e.WritePacket(&media.Packet{Kind: media.Video, DTS: 0, Keyframe: true})
	if len(e.pending) != maxPendingAudio {
		t.Error("the stream's own video went to the re-encoding relay")
	}
	var _ sender = e
	var _ sender = (*relay.Relay)(nil)
}
