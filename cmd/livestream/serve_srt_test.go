package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/record"
)

// TestServeSRTConfig: the SRT settings come from the file, the
// environment and flags, in that order of precedence, and bad ones are
// refused naming the field.
func TestServeSRTConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("serve:\n  srt_addr: \":9000\"\n  srt_passphrase: from-the-file\n  srt_latency: 2s\n"), 0o600)
	cfg, err := loadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	apply := srtFlags(fs)
	if err := fs.Parse([]string{"--srt-latency", "300ms"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LIVESTREAM_SRT_ADDR": ":9100", "LIVESTREAM_SRT_LATENCY": "1s"}
	if err := flagsFromEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	apply(&cfg.Serve.SRTConfig, setFlags(fs))
	if c := cfg.Serve.SRTConfig; c.SRTAddr != ":9100" || c.SRTPassphrase != "from-the-file" || c.SRTLatency != 300*time.Millisecond {
		t.Errorf("SRT config %+v: want the env's address, the file's passphrase, the flag's latency", c)
	}
	os.WriteFile(file, []byte("serve:\n  srt_passphrase: short\n"), 0o600)
	if _, err := loadConfig(file); err == nil || !strings.Contains(err.Error(), "srt_passphrase") || strings.Contains(err.Error(), "short") {
		t.Errorf("a 5-character passphrase: %v", err)
	}
}

// srtPublish has the ffmpeg CLI encode a live test pattern (H.264 or
// HEVC, with AAC) and send it as MPEG-TS to the server's SRT listener.
func (s *server) srtPublish(streamID, vcodec, acodec string, seconds string) *publisher {
	s.t.Helper()
	p := &publisher{done: make(chan error, 1)}
	p.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", seconds,
		"-c:v", vcodec, "-preset", "veryfast", "-g", "60", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error",
		"-c:a", acodec, "-ac", "2", "-f", "mpegts",
		"srt://"+s.cfg.Serve.SRTAddr+"?mode=caller&latency=200000&streamid="+streamID)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	s.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// TestServeSRT: SRT publishes of H.264+AAC, HEVC+AAC and H.264+MP2 by the
// ffmpeg CLI: the ladder plays (ffprobe: H.264 at 360p, AAC), the stream is
// recorded, and a YouTube relay named in the stream id carries the H.264
// one to another server; the HEVC one's copy relay is skipped with a
// status saying why (FLV carries H.264 only), and nothing crashes.
func TestServeSRT(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	for _, c := range []struct{ name, vcodec, acodec, codec string }{
		{"h264", "libx264", "aac", "h264"}, {"hevc", "libx265", "aac", "hevc"}, {"mp2", "libx264", "mp2", "h264"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dest := startServer(t)
			dk := dest.createChannel("youtube stand-in")
			s := startServerWith(t, func(cfg *Config) {
				cfg.Serve.SRTAddr = testenv.FreeUDPAddr(t)
				cfg.Serve.RelayYouTubeURL = "rtmp://" + dest.cfg.Serve.RTMPAddr + "/stream"
			})
			k := s.createChannel("srt " + c.name)
			pub := s.srtPublish("#!::r=stream/"+k.StreamKey+"?youtube="+dk.StreamKey+",m=publish", c.vcodec, c.acodec, "8")
			rendition := "/hls/" + k.PlaybackID + "/360p/index.m3u8"
			testenv.WaitFor(t, 30*time.Second, func() bool {
				code, pl := s.tryGet(rendition)
				return code == 200 && len(segments(pl)) >= 2
			}, "two segments of the SRT publish's ladder")
			pr := testenv.Probe(t, "http://"+s.cfg.Serve.HTTPAddr+"/hls/"+k.PlaybackID+"/live.m3u8")
			var video, audio bool
			for _, st := range pr.Streams {
				video = video || (st.CodecName == "h264" && st.Width == 640 && st.Height == 360)
				audio = audio || st.CodecName == "aac"
			}
			if !video || !audio {
				t.Errorf("the ladder of an SRT %s publish: %+v", c.name, pr.Streams)
			}
			if m := s.get("/metrics"); !bytes.Contains(m, []byte("livestream_srt_connection_requests_total 1")) ||
				!bytes.Contains(m, []byte("livestream_ingest_active_publishes 1")) {
				t.Errorf("/metrics lacks the SRT request or the active publish:\n%s", m)
			}
			code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
			if code != 200 || !bytes.Contains(body, []byte(`"kind":"youtube"`)) {
				t.Errorf("relay status: %d %s", code, body)
			}
			switch c.name {
			case "h264":
				testenv.WaitFor(t, 30*time.Second, func() bool {
					code, _ := dest.tryGet("/hls/" + dk.PlaybackID + "/360p/index.m3u8")
					return code == 200
				}, "the relayed SRT stream live on the destination")
			case "hevc", "mp2":
				if !bytes.Contains(body, []byte("which carries H.264 video only")) && !bytes.Contains(body, []byte("which carries AAC audio only")) {
					t.Errorf("the %s stream's copy relay status does not say why it is skipped: %s", c.name, body)
				}
			}
			if err := pub.wait(t, 30*time.Second); err != nil {
				t.Fatalf("ffmpeg: %v: %s", err, pub.stderr.String())
			}
			var list []Recording
			testenv.WaitFor(t, 20*time.Second, func() bool {
				list = s.recordings(k.ChannelID)
				return len(list) == 1 && list[0].State == record.StateComplete
			}, "the SRT publish's recording, complete")
			if r := list[0]; r.Segments < 2 || r.Size == 0 {
				t.Errorf("recording %+v", r)
			}
			for _, logs := range []string{s.logs.String(), dest.logs.String()} {
				if strings.Contains(logs, k.StreamKey) || strings.Contains(logs, dk.StreamKey) {
					t.Error("a stream key is in a log")
				}
			}
			// The stream's info names the publisher's codec.
			if want := "640x360 30/1 fps " + c.codec; !bytes.Contains(body, []byte(want)) {
				t.Errorf("stream info lacks %q: %s", want, body)
			}
		})
	}
}
