package hlsmux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/asticode/go-astits"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/h264"
)

// encode runs the ffmpeg CLI on a test pattern and a tone: x264 with
// 2 s GOPs of closed IDRs and B-frames, and 48 kHz stereo AAC, in MPEG-TS
// so that every access unit keeps its PTS and DTS. It returns the video in
// DTS order (Annex B with AUDs, as libx264 writes them for TS) and the raw
// AAC frames in PTS order.
func encode(t testing.TB, seconds int) (video, audio []*media.Packet) {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-keyint_min", "60",
		"-sc_threshold", "0", "-bf", "2", "-flags", "+cgop", "-c:a", "aac", "-ac", "2", "-f", "mpegts", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(out))
	for {
		d, err := dmx.NextData()
		if errors.Is(err, astits.ErrNoMorePackets) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.PES == nil || d.PES.Header.OptionalHeader == nil || d.PES.Header.OptionalHeader.PTS == nil {
			continue
		}
		oh := d.PES.Header.OptionalHeader
		pts := oh.PTS.Base
		switch d.PES.Header.StreamID {
		case 0xe0:
			dts := pts
			if oh.DTS != nil {
				dts = oh.DTS.Base
			}
			nals, err := h264.SplitAnnexB(d.PES.Data)
			if err != nil {
				t.Fatal(err)
			}
			video = append(video, &media.Packet{Kind: media.Video, PTS: pts, DTS: dts, Keyframe: h264.IsKeyframe(nals), Data: d.PES.Data})
		case 0xc0:
			frames, _, err := aac.SplitADTS(d.PES.Data)
			if err != nil {
				t.Fatal(err)
			}
			for i, f := range frames {
				p := pts + int64(i)*aacTicks
				audio = append(audio, &media.Packet{Kind: media.Audio, PTS: p, DTS: p, Keyframe: true, Data: f})
			}
		}
	}
	return video, audio
}

// TestSegmenterFFprobe writes real H.264 (with B-frames) and AAC, then has
// ffprobe read every segment and the playlist as a whole.
func TestSegmenterFFprobe(t *testing.T) {
	video, audio := encode(t, 13)
	reordered := 0
	for _, v := range video {
		if v.PTS != v.DTS {
			reordered++
		}
	}
	if !video[0].Keyframe || reordered == 0 || len(audio) == 0 {
		t.Fatalf("ffmpeg gave %d video packets (%d reordered, first a keyframe: %v) and %d audio frames",
			len(video), reordered, video[0].Keyframe, len(audio))
	}
	t.Logf("%d video packets (%d with PTS != DTS), %d audio frames", len(video), reordered, len(audio))
	dir := t.TempDir()
	st, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "v", Store: st, Type: VOD, FirstSeq: 1000, Video: true,
		Audio: stereo48k, FrameDuration: frameTicks, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, video, audio, media.ClockRate/2) // audio 0.5 s ahead, like x264's lookahead
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.infos) != 3 {
		t.Fatalf("%d segments, want 3 (6 s, 6 s, 1 s)", len(c.infos))
	}
	for i, want := range []float64{6, 6, 1} {
		info := c.infos[i]
		if d := info.Duration.Seconds(); math.Abs(d-want) > 0.0005 {
			t.Errorf("segment %d: %.3f s, want %.0f", i, d, want)
		}
		p := filepath.Join(dir, "v", info.Name)
		frames := testenv.ProbeFrames(t, p, "v:0")
		if frames[0].KeyFrame != 1 || frames[0].PictType != "I" {
			t.Errorf("%s starts with %+v", info.Name, frames[0])
		}
		if n, want := len(frames), int(want*30+0.5); n != want {
			t.Errorf("%s: %d video frames decoded, want %d", info.Name, n, want)
		}
		pkts := testenv.ProbePackets(t, p, "a:0")
		a0, _ := strconv.ParseFloat(pkts[0].PTSTime, 64)
		v0, _ := strconv.ParseFloat(frames[0].PTSTime, 64)
		if a0 < v0-0.0005 || a0 > v0+1024.0/48000 {
			t.Errorf("%s: audio starts at %.3f, video at %.3f", info.Name, a0, v0)
		}
	}
	// The whole rendition through FFmpeg's HLS demuxer: no complaint, every
	// packet there, DTS increasing.
	count := probePlaylist(t, filepath.Join(dir, "v", "index.m3u8"))
	if len(count) != 2 || count[0]+count[1] != len(video)+len(audio)-s.DroppedAudio() {
		t.Errorf("ffprobe read %v packets; %d video and %d audio were fed, %d dropped", count, len(video), len(audio), s.DroppedAudio())
	}
	pl, _ := os.ReadFile(filepath.Join(dir, "v", "index.m3u8"))
	if !strings.Contains(string(pl), "#EXT-X-PLAYLIST-TYPE:VOD\n") || !strings.HasSuffix(string(pl), "#EXT-X-ENDLIST\n") {
		t.Errorf("playlist:\n%s", pl)
	}
}

// probePlaylist reads a rendition whole through FFmpeg's HLS demuxer,
// fails on any complaint or a DTS that does not increase, and returns the
// packets read per stream.
func probePlaylist(t *testing.T, playlist string) map[int]int {
	t.Helper()
	ffprobe := testenv.NeedTool(t, "ffprobe")
	cmd := exec.Command(ffprobe, "-v", "warning", "-of", "json", "-show_entries", "packet=stream_index,dts", playlist)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe of the playlist: %v\n%s", err, stderr.Bytes())
	}
	var probed struct {
		Packets []struct {
			Stream int   `json:"stream_index"`
			DTS    int64 `json:"dts"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &probed); err != nil {
		t.Fatal(err)
	}
	count, last := map[int]int{}, map[int]int64{}
	for _, p := range probed.Packets {
		if n, ok := last[p.Stream]; ok && p.DTS <= n {
			t.Errorf("stream %d: DTS %d after %d", p.Stream, p.DTS, n)
		}
		count[p.Stream], last[p.Stream] = count[p.Stream]+1, p.DTS
	}
	return count
}
