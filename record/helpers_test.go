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

// testSegment is one real segment, as a rendition would hand it over:
// MPEG-TS, or fMP4 with the init section it uses.
type testSegment struct {
	data     []byte
	duration time.Duration
	// initName and init are an fMP4 segment's init section, its name as
	// hlsmux gives it ("init-<seq>.mp4"); empty for MPEG-TS.
	initName string
	init     []byte
}

// ext is the extension of the segment's name.
func (s testSegment) ext() string {
	if s.init != nil {
		return ".m4s"
	}
	return ".ts"
}

// sourceSeconds is the length of the test source: six 2 s segments, at
// sourceFPS.
const (
	sourceSeconds = 12
	sourceFPS     = 25
)

// The recording formats, as pipeline.HLSConfig.Format names them.
const (
	formatTS   = "ts"
	formatFMP4 = "fmp4"
)

var formats = []string{formatTS, formatFMP4}

var (
	segmentsOnce     sync.Once
	segmentsDir      string // MPEG-TS
	fmp4SegmentsOnce sync.Once
	fmp4SegmentsDir  string
)

// ffmpegSegments cuts a 12 s source (H.264 with a keyframe every 2 s, AAC)
// into MPEG-TS HLS segments with the ffmpeg CLI, and returns them with the
// durations of ffmpeg's playlist. The segments are cut once per test binary.
func ffmpegSegments(t testing.TB) []testSegment {
	t.Helper()
	return cutSegments(t, formatTS)
}

// cutSegments is ffmpegSegments in either format: for fMP4, every segment
// uses the one init section ffmpeg writes, named "init-1.mp4".
func cutSegments(t testing.TB, format string) []testSegment {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: sourceFPS, Seconds: sourceSeconds, Audio: true})
	once, dirp, args := &segmentsOnce, &segmentsDir, []string{"-hls_segment_filename", "%d.ts"}
	if format == formatFMP4 {
		once, dirp = &fmp4SegmentsOnce, &fmp4SegmentsDir
		args = []string{"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", "%d.m4s"}
	}
	once.Do(func() {
		if *dirp != "" { // the crash test's child is given its parent's
			return
		}
		dir, err := os.MkdirTemp("", "record-segments-")
		if err != nil {
			t.Fatal(err)
		}
		args[len(args)-1] = filepath.Join(dir, args[len(args)-1])
		cmd := exec.Command(ffmpeg, append(append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-i", src, "-c", "copy",
			"-f", "hls", "-hls_time", "2", "-hls_list_size", "0"}, args...), filepath.Join(dir, "index.m3u8"))...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("segment the source with ffmpeg: %v\n%s", err, out)
		}
		*dirp = dir
	})
	dir := *dirp
	if dir == "" {
		t.Fatal("segmenting the source failed in an earlier test")
	}
	pl, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var init []byte
	if format == formatFMP4 {
		if init, err = os.ReadFile(filepath.Join(dir, "init.mp4")); err != nil {
			t.Fatal(err)
		}
	}
	var segs []testSegment
	for _, e := range parseTestPlaylist(t, pl).entries {
		data, err := os.ReadFile(filepath.Join(dir, e.uri))
		if err != nil {
			t.Fatal(err)
		}
		seg := testSegment{data: data, duration: e.duration}
		if init != nil {
			seg.initName, seg.init = "init-1.mp4", init
		}
		segs = append(segs, seg)
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
	for _, dir := range []string{segmentsDir, fmp4SegmentsDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
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
	init          string // the URI of the EXT-X-MAP before it
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
	var init string
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
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			v, ok := strings.CutPrefix(line, `#EXT-X-MAP:URI="`)
			if v, ok = strings.CutSuffix(v, `"`); !ok {
				t.Fatalf("playlist line %d %q: want a quoted URI only", n, line)
			}
			init = v
		case strings.HasPrefix(line, "#"):
			k, v, _ := strings.Cut(line, ":")
			p.tags[k] = v
		case line != "":
			if !haveInf {
				t.Fatalf("playlist line %d: URI %q without #EXTINF", n, line)
			}
			p.entries = append(p.entries, playlistEntry{uri: line, duration: dur, discontinuity: disc, init: init})
			disc, haveInf = false, false
		}
	}
	return p
}

// feed hands segs to s as a rendition would, with Seq from firstSeq on,
// and returns the longest Segment call. An fMP4 segment's init section is
// handed to Init before it, every time (Init takes a name once).
func feed(t testing.TB, s *Session, rendition string, firstSeq int64, segs []testSegment, pace time.Duration) time.Duration {
	t.Helper()
	var longest time.Duration
	for i, seg := range segs {
		if i > 0 && pace > 0 {
			time.Sleep(pace) // a live stream's pace, not synchronisation
		}
		start := time.Now()
		if seg.init != nil {
			if err := s.Init(rendition, seg.initName, seg.init); err != nil {
				t.Fatalf("Init %s before segment %d: %v", seg.initName, i, err)
			}
		}
		err := s.Segment(rendition, segmentInfo(firstSeq+int64(i), seg, int64(i)*180000), seg.data)
		longest = max(longest, time.Since(start))
		if err != nil {
			t.Fatalf("Segment %d: %v", i, err)
		}
	}
	return longest
}

// segmentInfo is what a rendition says of seg, numbered seq.
func segmentInfo(seq int64, seg testSegment, pts int64) hlsmux.SegmentInfo {
	return hlsmux.SegmentInfo{Seq: seq, Name: strconv.FormatInt(seq, 10) + seg.ext(), Duration: seg.duration,
		StartPTS: pts, Init: seg.initName}
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
// exactly segs (durations in order, each segment's bytes in the backend,
// and for fMP4 its init section's) with the VOD type and ENDLIST, and the
// version EXT-X-MAP needs. It returns the playlist.
func checkVOD(t testing.TB, b Backend, playlistName string, segs []testSegment) testPlaylist {
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
	version := "3"
	if len(segs) > 0 && segs[0].init != nil {
		version = "6"
	}
	if p.tags["#EXT-X-VERSION"] != version {
		t.Errorf("EXT-X-VERSION %q, want %s:\n%s", p.tags["#EXT-X-VERSION"], version, data)
	}
	dir := playlistName[:strings.LastIndexByte(playlistName, '/')+1]
	for i, e := range p.entries {
		if !strings.HasSuffix(e.uri, segs[i].ext()) {
			t.Errorf("segment %d: URI %q, want a %s", i, e.uri, segs[i].ext())
		}
		switch {
		case segs[i].init == nil && e.init != "":
			t.Errorf("segment %d: an MPEG-TS segment after EXT-X-MAP %q", i, e.init)
		case segs[i].init != nil && !strings.HasSuffix(e.init, "/"+segs[i].initName) && e.init != segs[i].initName:
			t.Errorf("segment %d: EXT-X-MAP %q, want %s", i, e.init, segs[i].initName)
		case segs[i].init != nil:
			if got, err := b.Get(ctx, dir+e.init); err != nil || !bytes.Equal(got, segs[i].init) {
				t.Errorf("segment %d: init section %s in the backend: %d bytes, %v; want the %d fed", i, e.init, len(got), err, len(segs[i].init))
			}
		}
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

func totalDuration(segs []testSegment) time.Duration {
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
