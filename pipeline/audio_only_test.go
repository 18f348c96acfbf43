package pipeline

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// adtsPackets makes seconds of a 440 Hz sine, 44.1 kHz stereo AAC, with the
// ffmpeg CLI and returns it as a publisher's packets: raw AAC frames with
// their AudioSpecificConfig, timestamps from 5 s (an RTMP clock that does
// not start at zero).
func adtsPackets(t *testing.T, seconds float64) (media.AudioParams, []*media.Packet) {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), "sine.aac")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", strconv.FormatFloat(seconds, 'f', -1, 64),
		"-ac", "2", "-c:a", "aac", "-b:a", "128k", "-f", "adts", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	frames, cfg, err := aac.SplitADTS(b)
	if err != nil {
		t.Fatal(err)
	}
	asc, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ps []*media.Packet
	for i, f := range frames {
		ts := 5*media.ClockRate + int64(i)*1024*media.ClockRate/int64(cfg.SampleRate)
		ps = append(ps, &media.Packet{Kind: media.Audio, PTS: ts, DTS: ts, Keyframe: true, Data: f})
	}
	return media.AudioParams{Codec: media.AAC, SampleRate: cfg.SampleRate, Channels: cfg.Channels, Extradata: asc}, ps
}

// runAudioOnly runs an audio-only graph of ps into a directory.
func runAudioOnly(t *testing.T, cfg Config, typ hlsmux.PlaylistType, a media.AudioParams, ps []*media.Packet) (string, *Graph) {
	t.Helper()
	dir := t.TempDir()
	store, err := hlsmux.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewAudioOnly(cfg, a, Output{Store: store, Type: typ, FirstSeq: 1_700_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan *media.Packet)
	go func() {
		defer close(in)
		for _, p := range ps {
			in <- p
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.Run(ctx, in); err != nil {
		t.Fatalf("run: %v", err)
	}
	return dir, g
}

// TestAudioOnlyGraph: a stream without video becomes one AAC rendition cut
// on time, listed in the master with no resolution, whose bandwidth covers
// what its segments measure; ffprobe finds one AAC stream of the published
// length and no video.
func TestAudioOnlyGraph(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	a, ps := adtsPackets(t, 7)
	cfg := Config{SegmentDuration: 2 * time.Second, KeyframeInterval: time.Second}
	for _, typ := range []hlsmux.PlaylistType{hlsmux.Live, hlsmux.VOD} {
		dir, g := runAudioOnly(t, cfg, typ, a, ps)
		if !g.AudioOnly() || len(g.Renditions()) != 1 || g.Renditions()[0].Name != AudioOnlyName || g.FrameRate().Valid() {
			t.Fatalf("graph: audio only %v, renditions %+v, frame rate %v", g.AudioOnly(), g.Renditions(), g.FrameRate())
		}
		vs := readMaster(t, filepath.Join(dir, "live.m3u8"))
		if len(vs) != 1 || vs[0].uri != "audio/index.m3u8" || vs[0].codecs != "mp4a.40.2" || vs[0].resolution != "" {
			t.Fatalf("type %d: master variants %+v", typ, vs)
		}
		pl := readMedia(t, filepath.Join(dir, "audio", "index.m3u8"))
		if !pl.ended || len(pl.segs) != 4 || pl.target != 2 {
			t.Fatalf("type %d: playlist %+v: want 4 segments (2+2+2+1 s), target 2, ENDLIST", typ, pl)
		}
		var total float64
		for i, s := range pl.segs {
			total += s.dur
			if i < len(pl.segs)-1 && math.Abs(s.dur-2) > 0.05 {
				t.Errorf("type %d: segment %d lasts %.3f s, want 2 s cut on time", typ, i, s.dur)
			}
			if want := strconv.FormatInt(1_700_000_000_000+int64(i), 10) + ".ts"; s.uri != want {
				t.Errorf("type %d: segment %d is %s, want %s (contiguous numbers)", typ, i, s.uri, want)
			}
		}
		if math.Abs(total-7) > 0.1 {
			t.Errorf("type %d: playlist lasts %.3f s of 7 published", typ, total)
		}
		var peak int
		for _, s := range g.segments(0) {
			st, err := os.Stat(filepath.Join(dir, "audio", s.Name))
			if err != nil {
				t.Fatal(err)
			}
			if s.Duration > time.Second {
				peak = max(peak, int(float64(st.Size()*8)/s.Duration.Seconds()))
			}
		}
		t.Logf("type %d: peak %d bit/s measured, %d announced", typ, peak, vs[0].bandwidth)
		if peak == 0 || vs[0].bandwidth < peak {
			t.Errorf("type %d: BANDWIDTH %d below the measured peak %d", typ, vs[0].bandwidth, peak)
		}
		pr := testenv.Probe(t, filepath.Join(dir, "live.m3u8"))
		if len(pr.Streams) != 1 || pr.Streams[0].CodecType != "audio" || pr.Streams[0].CodecName != "aac" || pr.Streams[0].SampleRate != "48000" {
			t.Errorf("type %d: ffprobe streams %+v: want one 48 kHz AAC stream", typ, pr.Streams)
		}
		if st := g.Stats(); st.Decoded != 0 || len(st.Renditions) != 1 || st.Renditions[0].Segments != 4 || st.Renditions[0].Encoded < int64(7*48000/1024) {
			t.Errorf("type %d: stats %+v", typ, st)
		}
	}
}

// TestAudioOnlyHasNoTaps: a tap needs pictures.
func TestAudioOnlyHasNoTaps(t *testing.T) {
	g, err := NewAudioOnly(Config{}, media.AudioParams{Codec: media.AAC, SampleRate: 48000, Channels: 2}, Output{Store: hlsmux.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.AddTap(TapConfig{Name: "twitch", Width: 1280, Height: 720, Bitrate: 3_500_000, Emit: func(*media.Packet) {}})
	if !errors.Is(err, ErrAudioOnly) {
		t.Errorf("AddTap on an audio-only graph: %v, want ErrAudioOnly", err)
	}
}

// TestAudioOnlyCancel: a cancelled audio-only graph returns ctx.Err() and
// leaves no goroutine behind.
func TestAudioOnlyCancel(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	a, ps := adtsPackets(t, 3)
	g, err := NewAudioOnly(Config{}, a, Output{Store: hlsmux.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan *media.Packet)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx, in) }()
	for _, p := range ps[:20] {
		in <- p
	}
	cancel()
	close(in) // the sender stops and closes, as Run asks
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}
