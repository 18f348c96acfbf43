package live

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
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

// TestStreamIsRecorded: with every rendition recorded, the recording holds
// the very bytes of each live segment, the session ends after the last
// segment (the stream's info says complete) and the stream's own playlists
// are untouched.
func TestStreamIsRecorded(t *testing.T) {
	defer testenv.CheckGoroutines(t)()
	rec, root := newRecorder(t, record.Config{Renditions: record.RenditionsAll, TargetDuration: 2 * time.Second})
	cfg := testConfig(t)
	cfg.Pipeline.Ladder = twoRenditions
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
		seqs := segmentNumbers(t, live)
		if !bytes.Contains(vod, []byte("#EXT-X-ENDLIST")) || len(seqs) < 2 {
			t.Fatalf("%s: recorded playlist:\n%s\nlive:\n%s", r.Name, vod, live)
		}
		for _, n := range seqs {
			name := r.Name + "/" + strconv.FormatInt(n, 10) + ".ts"
			data, err := os.ReadFile(filepath.Join(root, ch.PlaybackID, in.Session, filepath.FromSlash(name)))
			if err != nil {
				t.Errorf("segment %s not recorded: %v", name, err)
				continue
			}
			if !bytes.Equal(data, get(t, st, name)) {
				t.Errorf("recorded %s differs from the live segment", name)
			}
			recorded++
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
	if !bytes.Contains(pl, []byte("#EXT-X-ENDLIST")) || len(segmentNumbers(t, pl)) < 2 {
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
