package record

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

const testStart = 1732430000000 // Unix ms: the session id of tests' first session

// TestDirEndToEnd records real segments, MPEG-TS and fMP4, into a
// directory, as the live stream would hand them over, and plays the VOD
// with ffprobe.
func TestDirEndToEnd(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) { testDirEndToEnd(t, format) })
	}
}

func testDirEndToEnd(t *testing.T, format string) {
	t.Cleanup(testenv.CheckGoroutines(t)) // after the recorder's Close, a cleanup too
	segs := cutSegments(t, format)
	root, spool := t.TempDir(), t.TempDir()
	b, err := NewDirBackend(root)
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: spool, Logger: logs.Logger()})
	s, err := r.Start("pb123", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != strconv.Itoa(testStart) || s.Playlist() != "pb123/vod-1732430000000.m3u8" {
		t.Fatalf("session %s, playlist %s", s.ID(), s.Playlist())
	}
	// The 360p rendition is not the top one: ignored.
	if err := s.Segment("360p", hlsmux.SegmentInfo{Seq: 1, Duration: time.Second}, []byte("not recorded")); err != nil {
		t.Errorf("Segment of an unrecorded rendition: %v", err)
	}
	if err := s.Segment("1080p", hlsmux.SegmentInfo{Seq: 1}, nil); err == nil {
		t.Error("Segment of a rendition outside the ladder succeeded")
	}
	feed(t, s, "720p", testStart, segs, 0)
	if err := s.Segment("720p", hlsmux.SegmentInfo{Seq: testStart}, segs[0].data); err == nil {
		t.Error("a segment whose seq is not after the last was taken")
	}

	// While live: an EVENT playlist, without ENDLIST, growing to every segment.
	testenv.WaitFor(t, 10*time.Second, func() bool {
		data, err := b.Get(context.Background(), s.Playlist())
		return err == nil && strings.Count(string(data), "#EXTINF") == len(segs)
	}, "the EVENT playlist to list every segment")
	data, _ := b.Get(context.Background(), s.Playlist())
	if p := parseTestPlaylist(t, data); p.tags["#EXT-X-PLAYLIST-TYPE"] != "EVENT" || p.tags["#EXT-X-ENDLIST"] != "" {
		t.Errorf("live playlist is not an EVENT playlist:\n%s", data)
	} else if _, ended := p.tags["#EXT-X-ENDLIST"]; ended {
		t.Errorf("live playlist has EXT-X-ENDLIST:\n%s", data)
	}
	list, err := r.Sessions(context.Background(), "pb123")
	if err != nil || len(list) != 1 || list[0].State != StateRecording {
		t.Errorf("Sessions while live = %+v, %v; want one recording", list, err)
	}

	s.End()
	if err := s.Segment("720p", hlsmux.SegmentInfo{Seq: testStart + 100}, segs[0].data); !errors.Is(err, ErrEnded) {
		t.Errorf("Segment after End: %v, want ErrEnded", err)
	}
	waitDone(t, s, 10*time.Second)
	p := checkVOD(t, b, s.Playlist(), segs)
	if !strings.HasPrefix(p.entries[0].uri, "1732430000000/720p/") {
		t.Errorf("segment URI %q, want 1732430000000/720p/<seq>%s", p.entries[0].uri, segs[0].ext())
	}
	if format == formatFMP4 && p.entries[0].init != "1732430000000/720p/init-1.mp4" {
		t.Errorf("EXT-X-MAP %q, want 1732430000000/720p/init-1.mp4", p.entries[0].init)
	}

	vod := filepath.Join(root, "pb123", "vod-1732430000000.m3u8")
	probe := testenv.Probe(t, vod)
	checkProbe(t, probe, totalDuration(segs), segs[0].duration)
	// Every picture of the source is read back, through every segment.
	if n := len(testenv.ProbePackets(t, vod, "v:0")); n != sourceSeconds*sourceFPS {
		t.Errorf("ffprobe reads %d video packets from the VOD, want the source's %d", n, sourceSeconds*sourceFPS)
	}

	list, err = r.Sessions(context.Background(), "pb123")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	var size int64
	for _, seg := range segs {
		size += int64(len(seg.data))
	}
	si := list[0]
	if si.State != StateComplete || si.Interrupted || si.Segments != len(segs) || si.Size != size ||
		si.Duration != totalDuration(segs).Round(time.Microsecond) || si.Playlist != s.Playlist() ||
		!si.Start.Equal(time.UnixMilli(testStart)) || len(si.Renditions) != 1 || si.Renditions[0] != "720p" {
		t.Errorf("session info %+v, want complete, %d segments, %d bytes, %v", si, len(segs), size, totalDuration(segs))
	}

	st := r.Stats()
	if st.Uploaded != int64(len(segs)) || st.SpoolBytes != 0 || st.Dropped != 0 || st.FailedAttempts != 0 ||
		st.UploadP50 <= 0 || st.UploadP99 < st.UploadP50 || st.SpoolWriteP99 <= 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("spool write p50 %v p99 %v; segment to directory p50 %v p99 %v", st.SpoolWriteP50, st.SpoolWriteP99, st.UploadP50, st.UploadP99)
	checkSpoolEmpty(t, spool)
	if strings.Contains(logs.String(), "ERROR") {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}

// checkProbe checks that ffprobe found video and audio and a duration
// within one segment of want.
func checkProbe(t testing.TB, probe *testenv.ProbeResult, want, segment time.Duration) {
	t.Helper()
	var video, audio bool
	for _, st := range probe.Streams {
		video = video || st.CodecType == "video" && st.CodecName == "h264"
		audio = audio || st.CodecType == "audio" && st.CodecName == "aac"
	}
	if !video || !audio {
		t.Errorf("ffprobe streams %+v: want h264 video and aac audio", probe.Streams)
	}
	d, err := strconv.ParseFloat(probe.Format.Duration, 64)
	got := time.Duration(d * float64(time.Second))
	if err != nil || got < want-segment || got > want+segment {
		t.Errorf("ffprobe duration %q, want %v ± %v", probe.Format.Duration, want, segment)
	}
}

// checkSpoolEmpty fails when the spool holds any file.
func checkSpoolEmpty(t testing.TB, spool string) {
	t.Helper()
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("spool still holds %s", p)
		}
		return nil
	})
}

// TestAllRenditions records the whole ladder: a master VOD playlist
// pointing at one VOD media playlist per rendition, in either format.
func TestAllRenditions(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) { testAllRenditions(t, format) })
	}
}

func testAllRenditions(t *testing.T, format string) {
	segs := cutSegments(t, format)[:3]
	root := t.TempDir()
	b, _ := NewDirBackend(root)
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: t.TempDir(), Renditions: RenditionsAll})
	s, err := r.Start("pb123", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range testVariants {
		feed(t, s, v.Name, 10, segs, 0)
	}
	s.End()
	waitDone(t, s, 10*time.Second)
	master, err := b.Get(context.Background(), s.Playlist())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range testVariants {
		uri := "1732430000000/" + v.Name + "/index.m3u8"
		if !strings.Contains(string(master), uri) || !strings.Contains(string(master), "BANDWIDTH="+strconv.Itoa(v.Bandwidth)) {
			t.Errorf("master lacks %s:\n%s", uri, master)
		}
		p := checkVOD(t, b, "pb123/"+uri, segs)
		if want := "10" + segs[0].ext(); p.entries[0].uri != want {
			t.Errorf("%s: first URI %q, want %s", v.Name, p.entries[0].uri, want)
		}
		if format == formatFMP4 && p.entries[0].init != "init-1.mp4" {
			t.Errorf("%s: EXT-X-MAP %q, want init-1.mp4", v.Name, p.entries[0].init)
		}
	}
	probe := testenv.Probe(t, filepath.Join(root, "pb123", "vod-1732430000000.m3u8"))
	checkProbe(t, probe, totalDuration(segs), segs[0].duration)
}

// TestSessionIDsUnique: two publishes in the same millisecond, and one
// after a restart, get distinct session ids.
func TestSessionIDsUnique(t *testing.T) {
	b, _ := NewDirBackend(t.TempDir())
	spool := t.TempDir()
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: spool})
	at := time.UnixMilli(testStart)
	a, err := r.Start("pb", at, testVariants)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Start("pb", at, testVariants)
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.Start("other", at, testVariants)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == c.ID() || other.ID() != a.ID() {
		t.Errorf("ids %s %s (other playback id %s): want the first two distinct", a.ID(), c.ID(), other.ID())
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 200)} {
		if _, err := r.Start(bad, at, testVariants); !errors.Is(err, ErrBadName) {
			t.Errorf("Start(%q): %v, want ErrBadName", bad, err)
		}
	}
	if _, err := r.Start("pb", at, []hlsmux.Variant{{Name: "a/b"}}); !errors.Is(err, ErrBadName) {
		t.Errorf("Start with rendition a/b: %v, want ErrBadName", err)
	}
	if _, err := r.Start("pb", at, nil); err == nil {
		t.Error("Start without renditions succeeded")
	}
}

// TestSpoolFull: with the spool full (storage unreachable), segments are
// refused at once and counted, the recording ends incomplete, and the
// segment after the gap is a discontinuity.
func TestSpoolFull(t *testing.T) {
	segs := ffmpegSegments(t)
	root := t.TempDir()
	dir, _ := NewDirBackend(root)
	gate := newGatedBackend(dir)
	var logs testenv.LogBuffer
	limit := int64(len(segs[0].data) + len(segs[1].data))
	r := newTestRecorder(t, Config{Backend: gate, SpoolDir: t.TempDir(), SpoolMaxBytes: limit, Logger: logs.Logger()})
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	gate.block() // storage down
	feed(t, s, "720p", 1, segs[:2], 0)
	for i := 2; i < 4; i++ {
		start := time.Now()
		err := s.Segment("720p", hlsmux.SegmentInfo{Seq: int64(1 + i), Duration: segs[i].duration}, segs[i].data)
		if !errors.Is(err, ErrSpoolFull) {
			t.Fatalf("segment %d with the spool full: %v, want ErrSpoolFull", i, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("refusing a segment took %v", d)
		}
	}
	if st := r.Stats(); st.Dropped != 2 || st.SpoolBytes != limit {
		t.Errorf("stats %+v, want 2 dropped and %d spooled bytes", st, limit)
	}
	if n := strings.Count(logs.String(), "spool full"); n != 1 {
		t.Errorf("%d spool-full logs for 2 drops in a row, want 1 (rate-limited):\n%s", n, logs.String())
	}
	gate.unblock() // storage back
	testenv.WaitFor(t, 10*time.Second, func() bool { return r.Stats().SpoolBytes == 0 }, "the spool to drain")
	feed(t, s, "720p", 5, segs[4:], 0)
	s.End()
	waitDone(t, s, 10*time.Second)
	kept := append(append([]testSegment{}, segs[:2]...), segs[4:]...)
	p := checkVOD(t, dir, s.Playlist(), kept)
	for i, e := range p.entries {
		if e.discontinuity != (i == 2) {
			t.Errorf("segment %d: discontinuity %v", i, e.discontinuity)
		}
	}
	list, err := r.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 || list[0].State != StateIncomplete || list[0].Dropped != 2 {
		t.Errorf("Sessions = %+v, %v; want one incomplete with 2 dropped", list, err)
	}
}

// TestExpire deletes recordings older than MaxAge, and nothing else.
func TestExpire(t *testing.T) {
	segs := ffmpegSegments(t)[:2]
	root := t.TempDir()
	b, _ := NewDirBackend(root)
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: t.TempDir(), MaxAge: 24 * time.Hour})
	now := time.UnixMilli(testStart)
	var sessions []*Session
	for _, at := range []time.Time{now.Add(-48 * time.Hour), now.Add(-time.Hour)} {
		s, err := r.Start("pb", at, testVariants)
		if err != nil {
			t.Fatal(err)
		}
		feed(t, s, "720p", 1, segs, 0)
		s.End()
		waitDone(t, s, 10*time.Second)
		sessions = append(sessions, s)
	}
	old, recent := sessions[0], sessions[1]
	n, err := r.Expire(context.Background(), now)
	if err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v; want 1", n, err)
	}
	objs, _ := b.List(context.Background(), "pb/")
	for _, o := range objs {
		if strings.Contains(o.Name, old.ID()) {
			t.Errorf("%s of the expired session is still there", o.Name)
		}
	}
	checkVOD(t, b, recent.Playlist(), segs)
	list, _ := r.Sessions(context.Background(), "pb")
	if len(list) != 1 || list[0].ID != recent.ID() {
		t.Errorf("Sessions after Expire = %+v, want only %s", list, recent.ID())
	}
}

// TestCloseLeavesSpool: Close that gives up while storage is down leaves
// the segments in the spool; the next Recorder uploads them and completes
// the VOD (the session was ended by Close, so not interrupted).
func TestCloseLeavesSpool(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t)) // after the recorder's Close, a cleanup too
	segs := ffmpegSegments(t)[:3]
	root, spool := t.TempDir(), t.TempDir()
	dir, _ := NewDirBackend(root)
	gate := newGatedBackend(dir)
	gate.block()
	r, err := New(Config{Backend: gate, SpoolDir: spool, Logger: testenv.Logger(t), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, "720p", 1, segs, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with storage down: %v, want DeadlineExceeded", err)
	}
	if _, err := r.Start("pb", time.Now(), testVariants); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}

	r2 := newTestRecorder(t, Config{Backend: dir, SpoolDir: spool})
	select {
	case <-r2.Recovered():
	case <-time.After(10 * time.Second):
		t.Fatal("the spool was not drained")
	}
	checkVOD(t, dir, s.Playlist(), segs)
	list, err := r2.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 || list[0].State != StateComplete || list[0].Interrupted {
		t.Errorf("Sessions = %+v, %v; want one complete, not interrupted", list, err)
	}
	checkSpoolEmpty(t, spool)
}

func TestConfigValidate(t *testing.T) {
	b, _ := NewDirBackend(t.TempDir())
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{SpoolDir: "x"}, "backend"},
		{Config{Backend: b}, "spool_dir"},
		{Config{Backend: b, SpoolDir: "x", Renditions: "some"}, "renditions"},
		{Config{Backend: b, SpoolDir: "x", SpoolMaxBytes: -1}, "spool_max_bytes"},
		{Config{Backend: b, SpoolDir: "x", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, "min_backoff"},
		{Config{Backend: b, SpoolDir: "x", MaxAge: -time.Hour}, "max_age"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c.cfg, err, c.field)
		}
	}
	if err := (Config{Backend: b, SpoolDir: "x"}).Validate(); err != nil {
		t.Errorf("a minimal config: %v", err)
	}
}
