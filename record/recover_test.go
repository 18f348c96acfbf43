package record

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// crash stops r as a SIGKILL would, as far as the spool and the backend
// can tell: uploads stop, no session is ended, nothing is cleaned up.
func crash(r *Recorder) {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// TestRecoverWhatIsLeft: after a crash, the spool holds a torn manifest
// line, a segment file no line accounts for, and a segment whose file is
// gone but which never reached the backend. The next Recorder uploads the
// rest, leaves out the lost one (a discontinuity, the session incomplete)
// and the unaccounted file, and marks the session interrupted.
func TestRecoverWhatIsLeft(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t)) // after the recorders' Close, a cleanup too
	segs := ffmpegSegments(t)[:4]
	root, spool := t.TempDir(), t.TempDir()
	dir, _ := NewDirBackend(root)
	gate := newGatedBackend(dir)
	gate.segmentsLeft = 1
	r, err := New(Config{Backend: gate, SpoolDir: spool, Logger: testenv.Logger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, "720p", 1, segs, 0)
	testenv.WaitFor(t, 5*time.Second, func() bool { return r.Stats().Uploaded == 1 }, "the first upload")
	crash(r)

	sdir := filepath.Join(spool, "pb", s.ID())
	// Segment 2 is lost from the spool without having been uploaded.
	if err := os.Remove(filepath.Join(sdir, "720p", "2.ts")); err != nil {
		t.Fatal(err)
	}
	// A Segment cut by the crash: its file written, its line half-appended.
	os.WriteFile(filepath.Join(sdir, "720p", "5.ts"), segs[0].data, 0o644)
	f, _ := os.OpenFile(filepath.Join(sdir, manifestName), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"k":"segment","rendition":"720p","se`)
	f.Close()

	r2 := newTestRecorder(t, Config{Backend: dir, SpoolDir: spool})
	select {
	case <-r2.Recovered():
	case <-time.After(10 * time.Second):
		t.Fatal("the spool was not drained")
	}
	kept := []testSegment{segs[0], segs[2], segs[3]}
	p := checkVOD(t, dir, s.Playlist(), kept)
	for i, e := range p.entries {
		if e.discontinuity != (i == 1) {
			t.Errorf("segment %d: discontinuity %v, want it after the lost one only", i, e.discontinuity)
		}
	}
	list, err := r2.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	if si := list[0]; si.State != StateIncomplete || !si.Interrupted || si.Dropped != 1 || si.Segments != 3 {
		t.Errorf("session %+v: want incomplete, interrupted, 1 dropped, 3 segments", si)
	}
	if _, err := dir.Get(context.Background(), "pb/"+s.ID()+"/720p/5.ts"); err == nil {
		t.Error("the segment no manifest line accounts for was uploaded")
	}
	checkSpoolEmpty(t, spool)
}

// TestRecoverFMP4: a crash of an fMP4 session after its init section and
// first segment were uploaded leaves the other segments in the spool, and
// an Init cut by the crash. The next Recorder finds the init section in
// the backend, uploads the rest but the unaccounted file, and the VOD
// (EXT-X-MAP, version 6) plays whole.
func TestRecoverFMP4(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t)) // after the recorders' Close, a cleanup too
	segs := cutSegments(t, formatFMP4)[:4]
	root, spool := t.TempDir(), t.TempDir()
	dir, _ := NewDirBackend(root)
	gate := newGatedBackend(dir)
	gate.segmentsLeft = 1
	r, err := New(Config{Backend: gate, SpoolDir: spool, Logger: testenv.Logger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, "720p", 1, segs, 0)
	testenv.WaitFor(t, 5*time.Second, func() bool { return r.Stats().Uploaded == 1 }, "the first upload")
	crash(r)

	sdir := filepath.Join(spool, "pb", s.ID())
	if _, err := os.Stat(filepath.Join(sdir, "720p", "init-1.mp4")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the uploaded init section is still in the spool: %v", err)
	}
	// An Init cut by the crash: its file written, its line half-appended.
	os.WriteFile(filepath.Join(sdir, "720p", "init-9.mp4"), segs[0].init, 0o644)
	f, _ := os.OpenFile(filepath.Join(sdir, manifestName), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"k":"init","rendition":"720p","na`)
	f.Close()

	r2 := newTestRecorder(t, Config{Backend: dir, SpoolDir: spool})
	select {
	case <-r2.Recovered():
	case <-time.After(10 * time.Second):
		t.Fatal("the spool was not drained")
	}
	checkVOD(t, dir, s.Playlist(), segs)
	vod := filepath.Join(root, filepath.FromSlash(s.Playlist()))
	checkProbe(t, testenv.Probe(t, vod), totalDuration(segs), segs[0].duration)
	if n, want := len(testenv.ProbePackets(t, vod, "v:0")), int(totalDuration(segs).Seconds()*sourceFPS+0.5); n != want {
		t.Errorf("ffprobe reads %d video packets from the recovered VOD, want %d", n, want)
	}
	list, err := r2.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	if si := list[0]; si.State != StateComplete || !si.Interrupted || si.Dropped != 0 || si.Segments != len(segs) {
		t.Errorf("session %+v: want complete, interrupted, %d segments", si, len(segs))
	}
	if _, err := dir.Get(context.Background(), "pb/"+s.ID()+"/720p/init-9.mp4"); err == nil {
		t.Error("the init section no manifest line accounts for was uploaded")
	}
	checkSpoolEmpty(t, spool)
}

// TestRecoverLostInit: an init section lost from the spool before its
// upload takes its segments with it (no player could decode them); the
// segments of the next init section are recorded, after a discontinuity.
func TestRecoverLostInit(t *testing.T) {
	segs := cutSegments(t, formatFMP4)[:4]
	for i := 2; i < 4; i++ {
		segs[i].initName = "init-3.mp4"
	}
	root, spool := t.TempDir(), t.TempDir()
	dir, _ := NewDirBackend(root)
	gate := newGatedBackend(dir)
	gate.block()
	r, err := New(Config{Backend: gate, SpoolDir: spool, Logger: testenv.Logger(t), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, "720p", 1, segs, 0)
	s.End()
	crash(r)
	if err := os.Remove(filepath.Join(spool, "pb", s.ID(), "720p", "init-1.mp4")); err != nil {
		t.Fatal(err)
	}

	r2 := newTestRecorder(t, Config{Backend: dir, SpoolDir: spool})
	select {
	case <-r2.Recovered():
	case <-time.After(10 * time.Second):
		t.Fatal("the spool was not drained")
	}
	p := checkVOD(t, dir, s.Playlist(), segs[2:])
	if !p.entries[0].discontinuity || p.entries[1].discontinuity {
		t.Errorf("discontinuities %v, %v: want one, before the first segment kept", p.entries[0].discontinuity, p.entries[1].discontinuity)
	}
	list, err := r2.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	if si := list[0]; si.State != StateIncomplete || si.Interrupted || si.Dropped != 2 || si.Segments != 2 {
		t.Errorf("session %+v: want incomplete, 2 dropped, 2 segments", si)
	}
	for _, name := range []string{"init-1.mp4", "1.m4s", "2.m4s"} {
		if _, err := dir.Get(context.Background(), "pb/"+s.ID()+"/720p/"+name); err == nil {
			t.Errorf("%s was uploaded", name)
		}
	}
	checkSpoolEmpty(t, spool)
}
