package origin

import (
	"bufio"
	"bytes"
	"fmt"
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

// The fixture is a real two-rendition HLS ladder made once by the ffmpeg
// CLI: 6 one-second segments of 320x180 and 160x90 H.264 Main with AAC,
// each rendition cut on the same keyframes, as the pipeline cuts them.
const (
	fixtureSegments = 6
	fixtureFPS      = 15
	// fixtureFirstSeq is the first segment's number, a publish time in ms
	// as the pipeline numbers them.
	fixtureFirstSeq = 1732430000000
	fixtureCodecs   = "avc1.4d401e,mp4a.40.2" // Main, level 3.0; AAC-LC
)

type fixtureRendition struct {
	name          string
	width, height int
	segments      []fixtureSegment
}

type fixtureSegment struct {
	duration time.Duration
	data     []byte
}

type hlsFixture struct{ renditions []fixtureRendition }

var (
	fixtureOnce sync.Once
	fixture     *hlsFixture
	fixtureErr  error
)

// loadFixture returns the shared fixture, making it on first use.
func loadFixture(t testing.TB) *hlsFixture {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	fixtureOnce.Do(func() { fixture, fixtureErr = makeFixture(ffmpeg) })
	if fixtureErr != nil {
		t.Fatalf("make the HLS fixture: %v", fixtureErr)
	}
	return fixture
}

func makeFixture(ffmpeg string) (*hlsFixture, error) {
	dir, err := os.MkdirTemp("", "origin-fixture-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := &hlsFixture{renditions: []fixtureRendition{
		{name: "180p", width: 320, height: 180},
		{name: "90p", width: 160, height: 90},
	}}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=%d", fixtureFPS),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-filter_complex", "[0:v]split=2[v0][big];[big]scale=160:90[v1]"}
	for i, r := range f.renditions {
		out := filepath.Join(dir, r.name)
		if err := os.Mkdir(out, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-map", "1:a",
			"-t", strconv.Itoa(fixtureSegments),
			"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level:v", "3.0",
			"-pix_fmt", "yuv420p", "-g", strconv.Itoa(fixtureFPS), "-keyint_min", strconv.Itoa(fixtureFPS),
			"-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-ac", "2",
			"-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_playlist_type", "vod",
			"-hls_segment_filename", filepath.Join(out, "%d.ts"), filepath.Join(out, "index.m3u8"))
	}
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v\n%s", err, out)
	}
	for i := range f.renditions {
		r := &f.renditions[i]
		segs, err := readFFmpegPlaylist(filepath.Join(dir, r.name))
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", r.name, err)
		}
		if len(segs) != fixtureSegments {
			return nil, fmt.Errorf("rendition %s: ffmpeg cut %d segments, want %d", r.name, len(segs), fixtureSegments)
		}
		r.segments = segs
	}
	return f, nil
}

// readFFmpegPlaylist reads the VOD playlist ffmpeg wrote in dir and the
// segments it lists.
func readFFmpegPlaylist(dir string) ([]fixtureSegment, error) {
	pl, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return nil, err
	}
	var segs []fixtureSegment
	var dur time.Duration
	sc := bufio.NewScanner(bytes.NewReader(pl))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			secs, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			s, err := strconv.ParseFloat(secs, 64)
			if err != nil {
				return nil, fmt.Errorf("bad EXTINF %q", line)
			}
			dur = time.Duration(s * float64(time.Second))
		case line != "" && !strings.HasPrefix(line, "#"):
			data, err := os.ReadFile(filepath.Join(dir, line))
			if err != nil {
				return nil, err
			}
			segs = append(segs, fixtureSegment{duration: dur, data: data})
		}
	}
	return segs, sc.Err()
}

// segmentName is the store name of rendition r's segment i.
func segmentName(r fixtureRendition, i int) string {
	return fmt.Sprintf("%s/%d.ts", r.name, fixtureFirstSeq+i)
}

// master is the ladder's master playlist, as the pipeline writes it.
func (f *hlsFixture) master() []byte {
	var vs []hlsmux.Variant
	for _, r := range f.renditions {
		vs = append(vs, hlsmux.Variant{
			Name: r.name, URI: r.name + "/index.m3u8",
			Bandwidth: 400_000 * r.height / 180, Width: r.width, Height: r.height,
			Codecs: fixtureCodecs, FrameRate: fixtureFPS,
		})
	}
	return hlsmux.EncodeMaster(vs)
}

// publish writes to store what a live stream has written after its first n
// segments: the master, each rendition's segments and live playlist, with
// EXT-X-ENDLIST when ended.
func (f *hlsFixture) publish(t testing.TB, store hlsmux.Store, n int, ended bool) {
	t.Helper()
	put := func(name string, data []byte) {
		if err := store.Put(name, data); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	for _, r := range f.renditions {
		pl := &hlsmux.MediaPlaylist{Type: hlsmux.Live, TargetDuration: time.Second}
		for i, s := range r.segments[:n] {
			put(segmentName(r, i), s.data)
			seq := int64(fixtureFirstSeq + i)
			pl.Append(hlsmux.SegmentInfo{Seq: seq, Name: strconv.FormatInt(seq, 10) + ".ts",
				Duration: s.duration, Size: len(s.data)})
		}
		if ended {
			pl.End()
		}
		put(r.name+"/index.m3u8", pl.Encode())
	}
	put(masterName, f.master())
}

// streamTable is the Streams of the tests: a map that tests change while
// the handler serves.
type streamTable struct {
	mu      sync.Mutex
	streams map[string]hlsmux.Store
}

func newStreamTable() *streamTable { return &streamTable{streams: map[string]hlsmux.Store{}} }

func (s *streamTable) Lookup(pid string) (hlsmux.Store, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[pid]
	return st, ok
}

func (s *streamTable) set(pid string, st hlsmux.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == nil {
		delete(s.streams, pid)
	} else {
		s.streams[pid] = st
	}
}
