package record

import (
	"context"
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
	kept := []tsSegment{segs[0], segs[2], segs[3]}
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
