package live

import (
	"bytes"
	"context"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/relay"
)

// audioSource is seconds of a 440 Hz sine, 44.1 kHz stereo AAC made by the
// ffmpeg CLI, as ingest hands it over: raw AAC frames after their
// AudioSpecificConfig, on an RTMP clock that starts at 3 s.
func audioSource(t *testing.T, seconds float64) (*media.AudioParams, []*media.Packet) {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), "sine.aac")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", strconv.FormatFloat(seconds, 'f', -1, 64),
		"-ac", "2", "-c:a", "aac", "-f", "adts", path).CombinedOutput()
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
		ts := 3*media.ClockRate + int64(i)*1024*media.ClockRate/int64(cfg.SampleRate)
		ps = append(ps, &media.Packet{Kind: media.Audio, PTS: ts, DTS: ts, Keyframe: true, Data: f})
	}
	return &media.AudioParams{Codec: media.AAC, SampleRate: cfg.SampleRate, Channels: cfg.Channels, Extradata: asc}, ps
}

// TestAudioOnlyPublish: a publish without video (a radio show) is accepted
// and served as audio-only HLS: a master with one AAC variant, a playlist
// of contiguous segments cut every 2 s that ends with ENDLIST, which
// ffprobe reads as AAC alone for the published length. It is recorded like
// a ladder, copied as it is to YouTube (nginx-rtmp here), and not sent to
// Twitch, whose re-encode needs video: its relay status and the log say
// so. No stream or destination key appears in the log.
func TestAudioOnlyPublish(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	ng := startNginx(t)
	rec, root := newRecorder(t, record.Config{Renditions: record.RenditionsAll, TargetDuration: 2 * time.Second})
	logs := &testenv.LogBuffer{}
	cfg := testConfig(t)
	cfg.Logger = logs.Logger()
	cfg.Recorder = rec
	cfg.MirrorDir = t.TempDir()
	base := "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	cfg.Relays.YouTube, cfg.Relays.Twitch = base, base
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())

	const seconds = 6
	const ytKey, twitchKey = "yt-audio-secret-0001", "live_987654321_audiosecret"
	audio, packets := audioSource(t, seconds)
	ch := channel(60)
	before := time.Now().UnixMilli()
	s, err := m.Publish(ch, "127.0.0.1:5000", url.Values{"youtube": {ytKey}, "twitch": {twitchKey}})
	if err != nil {
		t.Fatal(err)
	}
	publishRealTime(t, s, nil, audio, packets)

	st, ok := m.Lookup(ch.PlaybackID)
	if !ok {
		t.Fatal("the audio-only stream is not served")
	}
	master := string(get(t, st, "live.m3u8"))
	if !strings.Contains(master, "\naudio/index.m3u8\n") || !strings.Contains(master, `CODECS="mp4a.40.2"`) ||
		strings.Contains(master, "RESOLUTION") || strings.Count(master, "#EXT-X-STREAM-INF") != 1 {
		t.Errorf("master playlist:\n%s", master)
	}
	pl := get(t, st, "audio/index.m3u8")
	seqs := segmentNumbers(t, pl)
	// 3 segments of 2 s (2.005: the first AAC frame at or after 2 s), and
	// maybe the AAC encoder's last few frames in a fourth.
	if !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) || len(seqs) < 3 || len(seqs) > 4 || !bytes.Contains(pl, []byte("#EXTINF:2.005,")) {
		t.Fatalf("want 3 segments of a 6 s stream cut every 2 s, and ENDLIST:\n%s", pl)
	}
	if seqs[0] < before || seqs[0] > time.Now().UnixMilli() {
		t.Errorf("first segment number %d is not the publish time in ms", seqs[0])
	}
	for i := range seqs[1:] {
		if seqs[i+1] != seqs[i]+1 {
			t.Errorf("segment numbers %v are not contiguous", seqs)
		}
	}

	// A player (ffprobe, through the mirrored files) finds AAC alone, for
	// the published length.
	pr := testenv.Probe(t, filepath.Join(cfg.MirrorDir, ch.PlaybackID, "live.m3u8"))
	if len(pr.Streams) != 1 || pr.Streams[0].CodecType != "audio" || pr.Streams[0].CodecName != "aac" {
		t.Errorf("ffprobe of the master: streams %+v, want one AAC stream and no video", pr.Streams)
	}
	if d, _ := strconv.ParseFloat(pr.Format.Duration, 64); math.Abs(d-seconds) > 0.2 {
		t.Errorf("HLS lasts %.3f s of %d s published", d, seconds)
	}

	in := s.Stream().Info()
	if in.Video != "" || in.Audio != "aac 44100 Hz 2 ch" || len(in.Renditions) != 1 || in.Renditions[0].Name != "audio" ||
		in.Renditions[0].Segments != int64(len(seqs)) || in.Renditions[0].Frames < seconds*48000/1024 || in.DecodedFrames != 0 {
		t.Errorf("stream info %+v", in)
	}
	if in.SegmentLatency.Count == 0 {
		t.Error("no segment latency measured on an audio-only stream")
	}

	// Relays: YouTube got the audio as published; Twitch was skipped.
	var yt, tw relay.Status
	for _, r := range in.Relays {
		switch r.Kind {
		case "youtube":
			yt = r
		case "twitch":
			tw = r
		}
	}
	if yt.PacketsSent < int64(len(packets))-5 || yt.Transcoded {
		t.Errorf("YouTube relay %+v: want the %d packets published", yt, len(packets))
	}
	if tw.State != relay.Stopped || !strings.Contains(tw.LastError, "audio-only") || tw.PacketsSent != 0 {
		t.Errorf("Twitch relay %+v: want stopped, saying the stream is audio-only", tw)
	}

	// The recording holds the live segments.
	var ri *RecordingInfo
	testenv.WaitFor(t, 10*time.Second, func() bool {
		ri = s.Stream().Info().Recording
		return ri != nil && ri.State != record.StateRecording
	}, "the recording to be stored")
	if ri.State != record.StateComplete || ri.Segments != int64(len(seqs)) {
		t.Errorf("recording %+v", *ri)
	}
	recMaster, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ri.Playlist)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(recMaster, []byte(ri.Session+"/audio/index.m3u8")) || !bytes.Contains(recMaster, []byte("mp4a.40.2")) {
		t.Errorf("recording's master:\n%s", recMaster)
	}
	for _, n := range seqs {
		name := "audio/" + strconv.FormatInt(n, 10) + ".ts"
		data, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, ri.Session, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(data, get(t, st, name)) {
			t.Errorf("recorded %s differs from the live one (%v)", name, err)
		}
	}

	if err := ng.Stop(); err != nil {
		t.Fatal(err)
	}
	yp := testenv.Probe(t, ng.Recording(ytKey))
	if len(yp.Streams) != 1 || yp.Streams[0].CodecName != "aac" {
		t.Errorf("YouTube got streams %+v, want AAC alone", yp.Streams)
	}
	if d, _ := strconv.ParseFloat(yp.Format.Duration, 64); math.Abs(d-seconds) > 0.5 {
		t.Errorf("YouTube got %.2f s of %d s", d, seconds)
	}
	if _, err := os.Stat(ng.Recording(twitchKey)); err == nil {
		t.Error("Twitch got a publish of an audio-only stream")
	}

	text := logs.String()
	if !strings.Contains(text, "relay skipped: Twitch needs video") || !strings.Contains(text, "transcoding audio only") {
		t.Errorf("the log does not say the stream is audio only and Twitch skipped:\n%s", text)
	}
	for _, k := range []string{ytKey, twitchKey} {
		if strings.Contains(text, k) {
			t.Errorf("a relay key appears in the log")
		}
	}
}
