package live

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/record"
)

// newRecorder is a Recorder writing to a directory, closed at the end of
// the test.
func newRecorder(t *testing.T, cfg record.Config) (*record.Recorder, string) {
	t.Helper()
	dir := t.TempDir()
	b, err := record.NewDirBackend(filepath.Join(dir, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Backend, cfg.SpoolDir, cfg.Logger = b, filepath.Join(dir, "spool"), testenv.Logger(t)
	rec, err := record.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close(context.Background()) })
	return rec, b.Root()
}

// twoRenditions is a ladder the 640x360 source fills twice.
var twoRenditions = []pipeline.Rendition{
	{Name: "180p", Width: 320, Height: 180, VideoBitrate: 300_000, AudioBitrate: 64_000},
	{Name: "360p", Width: 640, Height: 360, VideoBitrate: 800_000, AudioBitrate: 96_000},
}

// TestStreamIsRecorded: with every rendition recorded, in either format,
// the recording holds the very bytes of each live segment (and of each
// fMP4 init section), the session ends after the last segment (the
// stream's info says complete) and the stream's own playlists are
// untouched.
func TestStreamIsRecorded(t *testing.T) {
	for _, format := range []string{"ts", "fmp4"} {
		t.Run(format, func(t *testing.T) { testStreamIsRecorded(t, format) })
	}
}

func testStreamIsRecorded(t *testing.T, format string) {
	defer testenv.CheckGoroutines(t)()
	rec, root := newRecorder(t, record.Config{Renditions: record.RenditionsAll, TargetDuration: 2 * time.Second})
	cfg := testConfig(t)
	cfg.Pipeline.Ladder = twoRenditions
	cfg.HLS.Format = format
	cfg.Recorder = rec
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := channel(40)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s)
	var in *RecordingInfo
	testenv.WaitFor(t, 10*time.Second, func() bool {
		in = s.Stream().Info().Recording
		return in != nil && in.State != record.StateRecording
	}, "the recording to be stored")
	if in.State != record.StateComplete || in.Failed != 0 || in.Playlist != ch.PlaybackID+"/vod-"+in.Session+".m3u8" {
		t.Errorf("recording info: %+v", *in)
	}
	master, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(in.Playlist)))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := m.Lookup(ch.PlaybackID)
	ext, version := ".ts", "#EXT-X-VERSION:3\n"
	if format == "fmp4" {
		ext, version = ".m4s", "#EXT-X-VERSION:6\n"
	}
	var recorded int64
	for _, r := range twoRenditions {
		uri := in.Session + "/" + r.Name + "/index.m3u8"
		if !bytes.Contains(master, []byte(uri)) {
			t.Errorf("master of the recording lacks %s:\n%s", uri, master)
		}
		vod, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, filepath.FromSlash(uri)))
		if err != nil {
			t.Fatal(err)
		}
		live := get(t, st, r.Name+"/index.m3u8")
		segs, inits := listedFiles(live)
		vodSegs, vodInits := listedFiles(vod)
		if !bytes.Contains(vod, []byte("#EXT-X-ENDLIST")) || !bytes.Contains(vod, []byte(version)) || len(segs) < 2 {
			t.Fatalf("%s: recorded playlist:\n%s\nlive:\n%s", r.Name, vod, live)
		}
		if (format == "fmp4") != (len(inits) > 0) || !slices.Equal(inits, vodInits) || !slices.Equal(segs, vodSegs) {
			t.Errorf("%s: the recorded playlist lists %v (init sections %v), the live one %v (%v)", r.Name, vodSegs, vodInits, segs, inits)
		}
		for _, f := range append(inits, segs...) {
			name := r.Name + "/" + f
			data, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, in.Session, filepath.FromSlash(name)))
			if err != nil {
				t.Errorf("%s not recorded: %v", name, err)
				continue
			}
			if !bytes.Equal(data, get(t, st, name)) {
				t.Errorf("recorded %s differs from the live one", name)
			}
			if strings.HasSuffix(f, ext) {
				recorded++
			}
		}
	}
	if in.Segments != recorded {
		t.Errorf("recording info counts %d segments, %d recorded", in.Segments, recorded)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// listedFiles returns the segment URIs a media playlist lists, and the
// URIs of its EXT-X-MAP tags (fMP4 init sections), in order; not the
// parts of LL-HLS.
func listedFiles(pl []byte) (segments, inits []string) {
	for _, line := range strings.Split(string(pl), "\n") {
		switch {
		case strings.HasPrefix(line, `#EXT-X-MAP:URI="`):
			inits = append(inits, strings.TrimSuffix(strings.TrimPrefix(line, `#EXT-X-MAP:URI="`), `"`))
		case line != "" && !strings.HasPrefix(line, "#"):
			segments = append(segments, line)
		}
	}
	return segments, inits
}

// TestFMP4RecordingPlays: a stream published with fMP4 HLS is recorded
// as fMP4 (init section, .m4s segments, EXT-X-MAP), and ffprobe reads the
// recorded VOD playlist through to its end: every packet of every
// recorded segment, for the length the playlist says.
func TestFMP4RecordingPlays(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	rec, root := newRecorder(t, record.Config{TargetDuration: 2 * time.Second})
	cfg := testConfig(t)
	cfg.HLS.Format = "fmp4"
	cfg.Recorder = rec
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := channel(42)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s)
	var in *RecordingInfo
	testenv.WaitFor(t, 10*time.Second, func() bool {
		in = s.Stream().Info().Recording
		return in != nil && in.State != record.StateRecording
	}, "the recording to be stored")
	if in.State != record.StateComplete || in.Failed != 0 {
		t.Errorf("recording info: %+v", *in)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	vodPath := filepath.Join(root, filepath.FromSlash(in.Playlist))
	vod, err := os.ReadFile(vodPath)
	if err != nil {
		t.Fatal(err)
	}
	segs, inits := listedFiles(vod)
	if len(segs) < 2 || len(inits) != 1 || !bytes.Contains(vod, []byte("#EXT-X-VERSION:6\n")) {
		t.Fatalf("recorded playlist:\n%s", vod)
	}
	// What each segment holds, probed on its own behind its init section.
	init, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, filepath.FromSlash(inits[0])))
	if err != nil {
		t.Fatal(err)
	}
	var video, audio int
	var listed time.Duration
	for i, seg := range segs {
		if !strings.HasSuffix(seg, ".m4s") || !strings.HasPrefix(seg, in.Session+"/") {
			t.Errorf("segment URI %q: want %s/<rendition>/<seq>.m4s", seg, in.Session)
		}
		data, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, filepath.FromSlash(seg)))
		if err != nil {
			t.Fatal(err)
		}
		one := filepath.Join(t.TempDir(), strconv.Itoa(i)+".mp4")
		if err := os.WriteFile(one, append(append([]byte{}, init...), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		video += len(testenv.ProbePackets(t, one, "v:0"))
		audio += len(testenv.ProbePackets(t, one, "a:0"))
	}
	for _, line := range strings.Split(string(vod), "\n") {
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			listed += time.Duration(f * float64(time.Second))
		}
	}
	gotVideo, gotAudio := len(testenv.ProbePackets(t, vodPath, "v:0")), len(testenv.ProbePackets(t, vodPath, "a:0"))
	if gotVideo != video || gotAudio != audio || video == 0 || audio == 0 {
		t.Errorf("ffprobe reads %d video and %d audio packets from the VOD playlist; its segments hold %d and %d", gotVideo, gotAudio, video, audio)
	}
	d := time.Duration(testenv.ProbeDuration(t, vodPath) * float64(time.Second))
	if d < listed-200*time.Millisecond || d > listed+200*time.Millisecond || listed < 4*time.Second {
		t.Errorf("ffprobe duration %v, the playlist lists %v of the 5 s source", d, listed)
	}
	t.Logf("the recorded VOD: %d segments, %v, %d video and %d audio packets", len(segs), listed, gotVideo, gotAudio)
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingFailureSparesTheStream: a recorder that takes no segment
// (its spool is full) costs the recording, never the stream: the ladder
// ends whole, and the recording says it is incomplete.
func TestRecordingFailureSparesTheStream(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	rec, _ := newRecorder(t, record.Config{SpoolMaxBytes: 1})
	cfg := testConfig(t)
	cfg.Recorder = rec
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ch := channel(41)
	s, err := m.Publish(ch, "127.0.0.1:5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s)
	st, _ := m.Lookup(ch.PlaybackID)
	pl := get(t, st, "360p/index.m3u8")
	if segs, _ := listedFiles(pl); !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) || len(segs) < 2 {
		t.Errorf("the stream's playlist:\n%s", pl)
	}
	var in *RecordingInfo
	testenv.WaitFor(t, 10*time.Second, func() bool {
		in = s.Stream().Info().Recording
		return in != nil && in.State != record.StateRecording
	}, "the recording's end")
	if in.State != record.StateIncomplete || in.Failed < 2 || in.Segments != 0 {
		t.Errorf("recording info with a full spool: %+v", *in)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
