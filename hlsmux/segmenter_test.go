package hlsmux

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/h264"
)

// realVideo encodes seconds of 30 fps H.264 with x264 through the ffmpeg
// CLI (IDR every 2 s, no B-frames, an AUD per access unit) and returns the
// access units with their timestamps, starting at 1 s.
func realVideo(t testing.TB, seconds int) []*media.Packet {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc2=size=320x240:rate=30", "-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast",
		"-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-bf", "0", "-x264-params", "aud=1", "-f", "h264", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	nals, err := h264.SplitAnnexB(out)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	for _, n := range nals {
		if h264.NALType(n) == h264.NALTypeAUD {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(aus[len(aus)-1], n)
	}
	var ps []*media.Packet
	for i, au := range aus {
		ts := int64(media.ClockRate + i*media.ClockRate/30)
		ps = append(ps, &media.Packet{Kind: media.Video, PTS: ts, DTS: ts, Keyframe: h264.IsKeyframe(au), Data: h264.AppendAnnexB(nil, au...)})
	}
	return ps
}

// realAudio encodes seconds of 48 kHz stereo AAC and returns raw frames
// timed from 1 s minus the encoder's 1024-sample priming.
func realAudio(t testing.TB, seconds int) []*media.Packet {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-ac", "2", "-t", strconv.Itoa(seconds), "-c:a", "aac", "-f", "adts", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := aac.SplitADTS(out)
	if err != nil {
		t.Fatal(err)
	}
	var ps []*media.Packet
	for i, f := range frames {
		ps = append(ps, &media.Packet{Kind: media.Audio, PTS: int64(media.ClockRate - 1920 + i*1920), DTS: int64(media.ClockRate - 1920 + i*1920), Keyframe: true, Data: f})
	}
	return ps
}

// feed interleaves video and audio as the pipeline does: audio ahead.
func feed(t *testing.T, s *Segmenter, video, audio []*media.Packet, audioLeadTicks int64) {
	t.Helper()
	ai := 0
	for _, v := range video {
		for ai < len(audio) && audio[ai].PTS <= v.PTS+audioLeadTicks {
			if err := s.WriteAudio(audio[ai]); err != nil {
				t.Fatal(err)
			}
			ai++
		}
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	for ; ai < len(audio); ai++ {
		if err := s.WriteAudio(audio[ai]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSegmenterVOD(t *testing.T) {
	video, audio := realVideo(t, 13), realAudio(t, 13)
	dir := t.TempDir()
	store, _ := NewDirStore(dir)
	var got []SegmentInfo
	s, err := NewSegmenter(SegmenterConfig{Dir: "v", Store: store, Type: VOD, FirstSeq: 1000, Video: true,
		Audio: &aac.Config{ObjectType: 2, SampleRate: 48000, Channels: 2}, FrameDuration: media.ClockRate / 30,
		OnSegment: func(i SegmentInfo) { got = append(got, i) }})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, video, audio, media.ClockRate/2) // audio 0.5 s ahead, like x264's lookahead
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("%d segments, want 3 (6 s, 6 s, 1 s)", len(got))
	}
	for i, want := range []float64{6, 6, 1} {
		if d := got[i].Duration.Seconds(); math.Abs(d-want) > 0.001 {
			t.Errorf("segment %d: %.3f s, want %.0f", i, d, want)
		}
		if got[i].Seq != int64(1000+i) || got[i].Name != strconv.Itoa(1000+i)+".ts" {
			t.Errorf("segment %d: seq %d name %s", i, got[i].Seq, got[i].Name)
		}
		path := filepath.Join(dir, "v", got[i].Name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkTS(t, data)
		frames := testenv.ProbeFrames(t, path, "v:0")
		if frames[0].KeyFrame != 1 || frames[0].PictType != "I" {
			t.Errorf("%s starts with %+v", path, frames[0])
		}
		if n, want := len(frames), int(got[i].Duration.Seconds()*30+0.5); n != want {
			t.Errorf("%s: %d video frames, want %d", path, n, want)
		}
		// Audio of the segment's time range is in it: its first audio PTS is
		// within one AAC frame of the first video PTS.
		pkts := testenv.ProbePackets(t, path, "a:0")
		a0, _ := strconv.ParseFloat(pkts[0].PTSTime, 64)
		v0, _ := strconv.ParseFloat(frames[0].PTSTime, 64)
		if math.Abs(a0-v0) > 1024.0/48000+0.001 {
			t.Errorf("%s: audio starts at %.3f, video at %.3f", path, a0, v0)
		}
	}
	pl, _ := os.ReadFile(filepath.Join(dir, "v", "index.m3u8"))
	if !strings.Contains(string(pl), "#EXT-X-PLAYLIST-TYPE:VOD") || !strings.HasSuffix(string(pl), "#EXT-X-ENDLIST\n") {
		t.Errorf("playlist:\n%s", pl)
	}
}

// checkTS checks the segment's TS packets: sync bytes, PAT then PMT first,
// the first PES of the video PID a random access point, and continuity
// counters that increase by one per PID.
func checkTS(t *testing.T, data []byte) {
	t.Helper()
	if len(data)%188 != 0 || len(data) == 0 {
		t.Fatalf("segment of %d bytes is not whole TS packets", len(data))
	}
	pid := func(p []byte) int { return int(p[1]&0x1f)<<8 | int(p[2]) }
	if pid(data[0:]) != 0 || pid(data[188:]) != 0x1000 {
		t.Errorf("segment starts with PIDs %#x, %#x; want PAT then PMT", pid(data), pid(data[188:]))
	}
	cc := map[int]int{}
	firstVideo := true
	for off := 0; off < len(data); off += 188 {
		p := data[off : off+188]
		if p[0] != 0x47 {
			t.Fatalf("no sync byte at %d", off)
		}
		id := pid(p)
		if p[3]&0x10 != 0 { // has payload
			c := int(p[3] & 0xf)
			if last, ok := cc[id]; ok && c != (last+1)&0xf {
				t.Errorf("PID %#x: continuity counter %d after %d", id, c, last)
			}
			cc[id] = c
		}
		if id == pidVideo && firstVideo {
			firstVideo = false
			if p[3]&0x20 == 0 || p[5]&0x40 == 0 {
				t.Errorf("first video packet has no random access indicator")
			}
			if p[5]&0x10 == 0 {
				t.Errorf("first video packet has no PCR")
			}
		}
	}
}

func TestSegmenterLiveWindowAndGrace(t *testing.T) {
	video := realVideo(t, 13)
	store := NewMemoryStore()
	now := time.Unix(1700000000, 0)
	s, err := NewSegmenter(SegmenterConfig{Dir: "720p", Store: store, Type: Live, TargetDuration: 2 * time.Second, Window: 3,
		Grace: 4900 * time.Millisecond, FirstSeq: 1, Video: true, FrameDuration: media.ClockRate / 30,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var playlists []string
	for i, v := range video {
		if i == 4*60 {
			s.Discontinuity()
		}
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second / 30)
		if v.Keyframe && i > 0 {
			pl, err := store.Get("720p/index.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			playlists = append(playlists, string(pl))
		}
	}
	// 13 s in 2 s GOPs: 6 segments cut so far, the window lists 3.
	last := playlists[len(playlists)-1]
	if !strings.Contains(last, "#EXT-X-MEDIA-SEQUENCE:4\n") || strings.Count(last, "#EXTINF:") != 3 || strings.Contains(last, "ENDLIST") {
		t.Errorf("live playlist after 6 segments:\n%s", last)
	}
	if !strings.Contains(last, "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n5.ts") {
		t.Errorf("segment 5 should follow a discontinuity:\n%s", last)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pl, _ := store.Get("720p/index.m3u8")
	if !bytes.HasSuffix(pl, []byte("#EXT-X-ENDLIST\n")) {
		t.Errorf("closed live playlist has no ENDLIST:\n%s", pl)
	}
	// Segments 1–4 left the window at 8, 10, 12 and 13 s (Close cut the
	// 7th); with a 4.9 s grace only segment 1 is gone at 13 s.
	names := store.List("720p/")
	if contains(names, "720p/1.ts") {
		t.Errorf("720p/1.ts still stored after its grace period: %v", names)
	}
	for _, kept := range []string{"720p/2.ts", "720p/3.ts", "720p/4.ts", "720p/5.ts", "720p/6.ts", "720p/7.ts"} {
		if !contains(names, kept) {
			t.Errorf("%s deleted too early: %v", kept, names)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func TestSegmenterDropsUntilKeyframe(t *testing.T) {
	video := realVideo(t, 3)
	store := NewMemoryStore()
	s, _ := NewSegmenter(SegmenterConfig{Dir: "x", Store: store, Type: VOD, Video: true, FrameDuration: media.ClockRate / 30})
	for _, v := range video[1:] { // starts after the IDR: drop until the next one at 2 s
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s.DroppedVideo() != 59 {
		t.Errorf("dropped %d packets before the first keyframe, want 59", s.DroppedVideo())
	}
	if err := s.WriteVideo(video[0]); err != ErrClosed {
		t.Errorf("WriteVideo after Close = %v, want ErrClosed", err)
	}
}

func TestSegmenterAudioOnly(t *testing.T) {
	audio := realAudio(t, 7)
	dir := t.TempDir()
	store, _ := NewDirStore(dir)
	s, err := NewSegmenter(SegmenterConfig{Dir: "a", Store: store, Type: VOD, TargetDuration: 3 * time.Second,
		Audio: &aac.Config{ObjectType: 2, SampleRate: 48000, Channels: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audio {
		if err := s.WriteAudio(a); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs := s.Playlist().Segments()
	if len(segs) != 3 {
		t.Fatalf("%d segments, want 3", len(segs))
	}
	data, _ := os.ReadFile(filepath.Join(dir, "a", segs[1].Name))
	checkTS(t, data)
	r := testenv.Probe(t, filepath.Join(dir, "a", segs[1].Name))
	if len(r.Streams) != 1 || r.Streams[0].CodecName != "aac" || r.Streams[0].SampleRate != "48000" {
		t.Errorf("audio-only segment: %+v", r.Streams)
	}
}

func BenchmarkSegmenter(b *testing.B) {
	video, audio := realVideo(b, 4), realAudio(b, 4)
	cfg := SegmenterConfig{Dir: "x", Store: NewMemoryStore(), Type: Live, Video: true,
		Audio: &aac.Config{ObjectType: 2, SampleRate: 48000, Channels: 2}, FrameDuration: media.ClockRate / 30}
	b.ReportAllocs()
	bytesIn := 0
	for _, p := range video {
		bytesIn += len(p.Data)
	}
	b.SetBytes(int64(bytesIn))
	for b.Loop() {
		s, _ := NewSegmenter(cfg)
		ai := 0
		for _, v := range video {
			for ai < len(audio) && audio[ai].PTS <= v.PTS {
				s.WriteAudio(audio[ai])
				ai++
			}
			s.WriteVideo(v)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(len(video)+len(audio))), "ns/packet")
}
