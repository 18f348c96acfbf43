package pipeline

import (
	"bufio"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

func TestMain(m *testing.M) {
	codec.Quiet()
	os.Exit(m.Run())
}

// transcodeVOD runs the file graph of src into a directory and returns it.
func transcodeVOD(t *testing.T, src string, cfg Config) (string, *File) {
	t.Helper()
	dir := t.TempDir()
	store, err := hlsmux.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(src, cfg, Output{Store: store, Type: hlsmux.VOD, FirstSeq: 1_700_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := f.Run(ctx); err != nil {
		t.Fatalf("transcode %s: %v", src, err)
	}
	return dir, f
}

type variant struct {
	uri, resolution, codecs string
	bandwidth, average      int
}

func readMaster(t *testing.T, path string) []variant {
	t.Helper()
	var vs []variant
	var cur *variant
	for _, line := range readLines(t, path) {
		if rest, ok := strings.CutPrefix(line, "#EXT-X-STREAM-INF:"); ok {
			cur = &variant{}
			for _, kv := range splitAttrs(rest) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "RESOLUTION":
					cur.resolution = v
				case "CODECS":
					cur.codecs = strings.Trim(v, `"`)
				case "BANDWIDTH":
					cur.bandwidth, _ = strconv.Atoi(v)
				case "AVERAGE-BANDWIDTH":
					cur.average, _ = strconv.Atoi(v)
				}
			}
		} else if cur != nil && line != "" && !strings.HasPrefix(line, "#") {
			cur.uri = line
			vs = append(vs, *cur)
			cur = nil
		}
	}
	return vs
}

// splitAttrs splits an attribute list on commas outside quotes.
func splitAttrs(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i, c := range s {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

type segment struct {
	uri string
	dur float64
}

type mediaPlaylist struct {
	segs      []segment
	ended     bool
	typ       string
	target    int
	mediaSeq  int64
	firstLine string
}

func readMedia(t *testing.T, path string) mediaPlaylist {
	t.Helper()
	var p mediaPlaylist
	var dur float64 = -1
	lines := readLines(t, path)
	if len(lines) > 0 {
		p.firstLine = lines[0]
	}
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			dur, _ = strconv.ParseFloat(v, 64)
		case line == "#EXT-X-ENDLIST":
			p.ended = true
		case strings.HasPrefix(line, "#EXT-X-PLAYLIST-TYPE:"):
			p.typ = strings.TrimPrefix(line, "#EXT-X-PLAYLIST-TYPE:")
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			p.target, _ = strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			p.mediaSeq, _ = strconv.ParseInt(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
		case line != "" && !strings.HasPrefix(line, "#"):
			p.segs = append(p.segs, segment{uri: line, dur: dur})
		}
	}
	return p
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return lines
}

func TestTranscodeLadder(t *testing.T) {
	cases := []struct {
		name string
		src  testenv.SourceOptions
		want map[string]string // rendition → resolution
	}{
		{"720p30 flv", testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 13, Audio: true, Format: "flv", Noise: true},
			map[string]string{"360p": "640x360", "480p": "842x474", "720p": "1280x720"}},
		{"1080p30 mp4", testenv.SourceOptions{Width: 1920, Height: 1080, FPS: 30, Seconds: 13, Audio: true, Format: "mp4", Noise: true},
			map[string]string{"360p": "640x360", "480p": "842x474", "720p": "1280x720"}},
		{"720p24 mpegts", testenv.SourceOptions{Width: 1280, Height: 720, FPS: 24, Seconds: 13, Audio: true, Format: "mpegts"},
			map[string]string{"360p": "640x360", "480p": "842x474", "720p": "1280x720"}},
		{"360p30 never upscales", testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: 7, Audio: true, Format: "flv"},
			map[string]string{"360p": "640x360"}},
		{"video only", testenv.SourceOptions{Width: 854, Height: 480, FPS: 30, Seconds: 7, Format: "flv"},
			map[string]string{"360p": "640x360", "480p": "842x472"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := testenv.GenerateSource(t, c.src)
			dir, f := transcodeVOD(t, src, Config{})
			checkLadder(t, dir, f, c.src, c.want)
		})
	}
}

func checkLadder(t *testing.T, dir string, f *File, src testenv.SourceOptions, want map[string]string) {
	t.Helper()
	vs := readMaster(t, filepath.Join(dir, "live.m3u8"))
	if len(vs) != len(want) {
		t.Fatalf("master lists %d variants %+v, want %d", len(vs), vs, len(want))
	}
	fps := float64(src.FPS)
	frame := 1 / fps
	var firstPTS [][]float64
	var counts []int
	for _, v := range vs {
		name := strings.TrimSuffix(v.uri, "/index.m3u8")
		if want[name] != v.resolution {
			t.Errorf("%s: RESOLUTION %s, want %s", name, v.resolution, want[name])
		}
		if !strings.HasPrefix(v.codecs, "avc1.4d") {
			t.Errorf("%s: CODECS %q, want main profile avc1.4d…", name, v.codecs)
		}
		if strings.Contains(v.codecs, "mp4a.40.2") != src.Audio {
			t.Errorf("%s: CODECS %q, audio %v", name, v.codecs, src.Audio)
		}
		if v.bandwidth <= 0 || v.average <= 0 || v.average > v.bandwidth {
			t.Errorf("%s: BANDWIDTH %d AVERAGE-BANDWIDTH %d", name, v.bandwidth, v.average)
		}
		pl := readMedia(t, filepath.Join(dir, v.uri))
		if pl.typ != "VOD" || !pl.ended {
			t.Errorf("%s: type %q ended %v, want VOD with ENDLIST", name, pl.typ, pl.ended)
		}
		if pl.mediaSeq != 1_700_000_000_000 {
			t.Errorf("%s: media sequence %d, want the start time in ms", name, pl.mediaSeq)
		}
		counts = append(counts, len(pl.segs))
		var pts []float64
		total := 0.0
		for i, s := range pl.segs {
			path := filepath.Join(dir, name, s.uri)
			total += s.dur
			if i < len(pl.segs)-1 && math.Abs(s.dur-6) > 0.1 {
				t.Errorf("%s segment %d: EXTINF %.3f, want 6 s", name, i, s.dur)
			}
			frames := testenv.ProbeFrames(t, path, "v:0")
			if len(frames) == 0 {
				t.Fatalf("%s: no video frames", path)
			}
			if frames[0].KeyFrame != 1 || frames[0].PictType != "I" {
				t.Errorf("%s: starts with %+v, want an IDR", path, frames[0])
			}
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, fr := range frames {
				p := parseF(fr.PTSTime)
				lo, hi = math.Min(lo, p), math.Max(hi, p)
			}
			if d := hi + frame - lo; math.Abs(d-s.dur) > 0.1 {
				t.Errorf("%s: video spans %.3f s, EXTINF says %.3f", path, d, s.dur)
			}
			pts = append(pts, lo)
			if i == 0 {
				pr := testenv.Probe(t, path)
				var v0, a0 float64 = -1, -1
				for _, st := range pr.Streams {
					switch st.CodecType {
					case "video":
						if st.CodecName != "h264" || st.Profile != "Main" || strconv.Itoa(st.Width)+"x"+strconv.Itoa(st.Height) != want[name] {
							t.Errorf("%s: video %s %s %dx%d", path, st.CodecName, st.Profile, st.Width, st.Height)
						}
						v0 = parseF(st.StartTime)
					case "audio":
						if st.CodecName != "aac" || st.SampleRate != "48000" || st.Channels != 2 {
							t.Errorf("%s: audio %s %s Hz %d channels", path, st.CodecName, st.SampleRate, st.Channels)
						}
						a0 = parseF(st.StartTime)
					}
				}
				if src.Audio && (a0 < 0 || math.Abs(a0-v0) > 0.05) {
					t.Errorf("%s: audio starts at %.3f, video at %.3f: want within 50 ms", path, a0, v0)
				}
			}
		}
		if srcDur := src.Seconds; math.Abs(total-srcDur) > frame+0.001 {
			t.Errorf("%s: total %.3f s, source %.3f s: want within one frame", name, total, srcDur)
		}
		firstPTS = append(firstPTS, pts)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] != counts[0] {
			t.Fatalf("segment counts differ across renditions: %v", counts)
		}
		for j := range firstPTS[i] {
			if math.Abs(firstPTS[i][j]-firstPTS[0][j]) > 0.0001 {
				t.Errorf("segment %d starts at %.4f in one rendition and %.4f in another", j, firstPTS[i][j], firstPTS[0][j])
			}
		}
	}
}

func parseF(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// TestAudioEncodedOncePerBitrate: the default ladder has two distinct audio
// bitrates, so two AAC encodes serve three renditions.
func TestAudioEncodedOncePerBitrate(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 1, Audio: true, Format: "flv"})
	_, f := transcodeVOD(t, src, Config{})
	if len(f.audioRates) != 2 || f.audioOf[1] != f.audioOf[2] || f.audioOf[0] == f.audioOf[1] {
		t.Fatalf("audio encodes %v shared as %v, want 96k for 360p and one 128k for 480p and 720p", f.audioRates, f.audioOf)
	}
}

// TestManyPipelinesNoLeak runs many short pipelines and checks that every
// goroutine ends and the C heap comes back to the byte. glibc's per-thread
// caches (tcache) keep freed chunks counted as allocated, so the test runs
// itself again in a child process with them off, where a pipeline's
// FFmpeg and x264 allocations net to exactly zero.
func TestManyPipelinesNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const tunables = "glibc.malloc.tcache_count=0"
	if os.Getenv("GLIBC_TUNABLES") != tunables {
		cmd := exec.Command(os.Args[0], "-test.run=^TestManyPipelinesNoLeak$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GLIBC_TUNABLES="+tunables)
		out, err := cmd.CombinedOutput()
		t.Logf("child process:\n%s", out)
		if err != nil {
			t.Fatalf("TestManyPipelinesNoLeak with %s: %v", tunables, err)
		}
		if !strings.Contains(string(out), "--- PASS: TestManyPipelinesNoLeak") {
			t.Fatal("the child process did not run the test")
		}
		return
	}
	defer testenv.CheckGoroutines(t)()
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 854, Height: 480, FPS: 30, Seconds: 1, Audio: true, Format: "flv"})
	run := func() {
		store := hlsmux.NewMemoryStore()
		f, err := OpenFile(src, Config{}, Output{Store: store, Type: hlsmux.Live, FirstSeq: 1})
		if err != nil {
			t.Fatal(err)
		}
		// Two taps: one shares the 360p rendition's scaled pictures (the
		// scaler then allocates a picture per frame), one scales its own.
		var taps []*Tap
		for _, size := range [][2]int{{640, 360}, {320, 180}} {
			tap, err := f.AddTap(TapConfig{Name: "leak", Width: size[0], Height: size[1], Bitrate: 300_000,
				Queue: 30, Emit: func(*media.Packet) {}})
			if err != nil {
				t.Fatal(err)
			}
			taps = append(taps, tap)
		}
		if err := f.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, tap := range taps {
			<-tap.Done()
			tap.Close()
		}
		f.Close()
	}
	// 854x480 makes two renditions, both scaled: every codec type runs.
	// Warm up: FFmpeg's and x264's one-time tables, Go's threads.
	for range 10 {
		run()
	}
	runtime.GC()
	heap0, rss0 := codec.HeapInUse(), testenv.RSS()
	if heap0 == 0 {
		t.Skip("the C library cannot tell how much of its heap is in use (not glibc 2.33+)")
	}
	const runs = 50
	for range runs {
		run()
	}
	runtime.GC()
	heap1, rss1 := codec.HeapInUse(), testenv.RSS()
	t.Logf("after %d more pipelines: C heap in use %+d bytes (%d -> %d), RSS %+d MB (%d -> %d MB)",
		runs, heap1-heap0, heap0, heap1, (rss1-rss0)>>20, rss0>>20, rss1>>20)
	// A new Go thread costs glibc a few hundred bytes; anything a pipeline
	// leaks (a packet's data, a picture, a codec context) costs more than
	// this in 50 runs.
	if heap1-heap0 > 16<<10 {
		t.Errorf("C heap in use grew by %d bytes over %d pipelines: an FFmpeg or x264 allocation is not freed", heap1-heap0, runs)
	}
	// RSS also moves with Go's heap and with what malloc keeps after a
	// free, so it only catches gross leaks: one 360p encoder is ~10 MB.
	if rss1-rss0 > 64<<20 {
		t.Errorf("RSS grew by %d MB over %d pipelines", (rss1-rss0)>>20, runs)
	}
}

// TestCancelFreesEverything aborts a pipeline mid-stream.
func TestCancelFreesEverything(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 13, Audio: true, Format: "flv", Noise: true})
	store := hlsmux.NewMemoryStore()
	f, err := OpenFile(src, Config{}, Output{Store: store, Type: hlsmux.Live, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	testenv.WaitFor(t, 30*time.Second, func() bool { n, _ := f.Progress(); return n >= 30 }, "30 frames decoded")
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Fatalf("Run after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancellation")
	}
}
