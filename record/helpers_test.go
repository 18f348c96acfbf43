package record

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

// tsSegment is one real MPEG-TS segment, as a rendition would hand it over.
type tsSegment struct {
	data     []byte
	duration time.Duration
}

// sourceSeconds is the length of the test source: six 2 s segments.
const sourceSeconds = 12

var (
	segmentsOnce sync.Once
	segmentsDir  string
)

// ffmpegSegments cuts a 12 s source (H.264 with a keyframe every 2 s, AAC)
// into HLS segments with the ffmpeg CLI, and returns them with the
// durations of ffmpeg's playlist. The segments are cut once per test binary.
func ffmpegSegments(t testing.TB) []tsSegment {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 25, Seconds: sourceSeconds, Audio: true})
	segmentsOnce.Do(func() {
		if segmentsDir != "" { // the crash test's child is given its parent's
			return
		}
		dir, err := os.MkdirTemp("", "record-segments-")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", src, "-c", "copy",
			"-f", "hls", "-hls_time", "2", "-hls_list_size", "0", "-hls_segment_filename", filepath.Join(dir, "%d.ts"),
			filepath.Join(dir, "index.m3u8")).CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			t.Fatalf("segment the source with ffmpeg: %v\n%s", err, out)
		}
		segmentsDir = dir
	})
	if segmentsDir == "" {
		t.Fatal("segmenting the source failed in an earlier test")
	}
	pl, err := os.ReadFile(filepath.Join(segmentsDir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var segs []tsSegment
	for _, e := range parseTestPlaylist(t, pl).entries {
		data, err := os.ReadFile(filepath.Join(segmentsDir, e.uri))
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, tsSegment{data: data, duration: e.duration})
	}
	if len(segs) < 5 {
		t.Fatalf("ffmpeg cut %d segments of the %d s source, want about 6", len(segs), sourceSeconds)
	}
	return segs
}

// TestMain removes the segments cut once for all tests.
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(m.Run())
	}
	code := m.Run()
	if segmentsDir != "" {
		os.RemoveAll(segmentsDir)
	}
	os.Exit(code)
}

// testPlaylist is what a test reads back from a media playlist.
type testPlaylist struct {
	tags    map[string]string // "#EXT-X-PLAYLIST-TYPE" → "VOD"; "#EXT-X-ENDLIST" → ""
	entries []playlistEntry
}

type playlistEntry struct {
	uri           string
	duration      time.Duration
	discontinuity bool
}

func (p testPlaylist) total() time.Duration {
	var d time.Duration
	for _, e := range p.entries {
		d += e.duration
	}
	return d
}

// parseTestPlaylist reads a media playlist, strictly enough for tests.
func parseTestPlaylist(t testing.TB, data []byte) testPlaylist {
	t.Helper()
	p := testPlaylist{tags: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var dur time.Duration
	var disc, haveInf bool
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case n == 1 && line != "#EXTM3U":
			t.Fatalf("playlist does not start with #EXTM3U:\n%s", data)
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("playlist line %d %q: %v", n, line, err)
			}
			dur, haveInf = time.Duration(f*float64(time.Second)).Round(time.Millisecond), true
		case line == "#EXT-X-DISCONTINUITY":
			disc = true
		case strings.HasPrefix(line, "#"):
			k, v, _ := strings.Cut(line, ":")
			p.tags[k] = v
		case line != "":
			if !haveInf {
				t.Fatalf("playlist line %d: URI %q without #EXTINF", n, line)
			}
			p.entries = append(p.entries, playlistEntry{uri: line, duration: dur, discontinuity: disc})
			disc, haveInf = false, false
		}
	}
	return p
}

// feed hands segs to s as a rendition would, with Seq from firstSeq on,
// and returns the longest Segment call.
func feed(t testing.TB, s *Session, rendition string, firstSeq int64, segs []tsSegment, pace time.Duration) time.Duration {
	t.Helper()
	var longest time.Duration
	for i, seg := range segs {
		if i > 0 && pace > 0 {
			time.Sleep(pace) // a live stream's pace, not synchronisation
		}
		start := time.Now()
		err := s.Segment(rendition, hlsmux.SegmentInfo{Seq: firstSeq + int64(i), Duration: seg.duration, StartPTS: int64(i) * 180000}, seg.data)
		longest = max(longest, time.Since(start))
		if err != nil {
			t.Fatalf("Segment %d: %v", i, err)
		}
	}
	return longest
}

// waitDone waits for a session's VOD to be complete.
func waitDone(t testing.TB, s *Session, timeout time.Duration) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(timeout):
		t.Fatalf("session %s not complete after %v", s.ID(), timeout)
	}
}

// checkVOD reads the recording's VOD playlist from b and checks it lists
// exactly segs (durations in order, each segment's bytes in the backend)
// with the VOD type and ENDLIST. It returns the playlist.
func checkVOD(t testing.TB, b Backend, playlistName string, segs []tsSegment) testPlaylist {
	t.Helper()
	ctx := context.Background()
	data, err := b.Get(ctx, playlistName)
	if err != nil {
		t.Fatalf("get VOD playlist: %v", err)
	}
	p := parseTestPlaylist(t, data)
	if p.tags["#EXT-X-PLAYLIST-TYPE"] != "VOD" {
		t.Errorf("playlist type %q, want VOD:\n%s", p.tags["#EXT-X-PLAYLIST-TYPE"], data)
	}
	if _, ok := p.tags["#EXT-X-ENDLIST"]; !ok {
		t.Errorf("no EXT-X-ENDLIST:\n%s", data)
	}
	if len(p.entries) != len(segs) {
		t.Fatalf("VOD lists %d segments, want %d:\n%s", len(p.entries), len(segs), data)
	}
	dir := playlistName[:strings.LastIndexByte(playlistName, '/')+1]
	for i, e := range p.entries {
		if e.duration != segs[i].duration.Round(time.Millisecond) {
			t.Errorf("segment %d: EXTINF %v, want %v", i, e.duration, segs[i].duration)
		}
		got, err := b.Get(ctx, dir+e.uri)
		if err != nil {
			t.Errorf("segment %d (%s) listed but not in the backend: %v", i, e.uri, err)
		} else if !bytes.Equal(got, segs[i].data) {
			t.Errorf("segment %d (%s): %d bytes in the backend differ from the %d fed", i, e.uri, len(got), len(segs[i].data))
		}
	}
	return p
}

func totalDuration(segs []tsSegment) time.Duration {
	var d time.Duration
	for _, s := range segs {
		d += s.duration
	}
	return d
}

// testVariants is a three-rendition ladder.
var testVariants = []hlsmux.Variant{
	{Name: "360p", Bandwidth: 800_000, Width: 640, Height: 360, Codecs: "avc1.4d401e,mp4a.40.2"},
	{Name: "720p", Bandwidth: 3_000_000, Width: 1280, Height: 720, Codecs: "avc1.4d401f,mp4a.40.2"},
	{Name: "480p", Bandwidth: 1_400_000, Width: 854, Height: 480, Codecs: "avc1.4d401e,mp4a.40.2"},
}

// newTestRecorder starts a Recorder, closed at the end of the test.
func newTestRecorder(t testing.TB, cfg Config) *Recorder {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 300*time.Millisecond
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}
