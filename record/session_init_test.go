package record

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// TestInitSections: each init section an fMP4 session is given goes to
// the backend once, however often Init is called; the playlist writes
// EXT-X-MAP where the init section changes; a segment whose init section
// the session lacks is dropped, and names that do not match their format
// are refused.
func TestInitSections(t *testing.T) {
	segs := cutSegments(t, formatFMP4)[:4]
	for i := 2; i < 4; i++ {
		segs[i].initName = "init-3.mp4" // new parameter sets, as hlsmux names them
	}
	b, _ := NewDirBackend(t.TempDir())
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: t.TempDir()})
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	init := segs[0].init
	if err := s.Init("360p", "init-1.mp4", init); err != nil {
		t.Errorf("Init of an unrecorded rendition: %v", err)
	}
	if err := s.Init("1080p", "init-1.mp4", init); err == nil {
		t.Error("Init of a rendition outside the ladder succeeded")
	}
	for _, bad := range []string{"", "init.mp4", "init-1.mp4x", "init-1.m4s", "../init-1.mp4", "init-" + strings.Repeat("1", 20) + ".mp4", "x-1.mp4"} {
		if err := s.Init("720p", bad, init); err == nil {
			t.Errorf("Init named %q succeeded", bad)
		}
	}
	for _, c := range []struct {
		name string
		seg  hlsmux.SegmentInfo
	}{
		{"fMP4 without init", hlsmux.SegmentInfo{Seq: 1, Name: "1.m4s"}},
		{"TS with init", hlsmux.SegmentInfo{Seq: 1, Name: "1.ts", Init: "init-1.mp4"}},
		{"unknown extension", hlsmux.SegmentInfo{Seq: 1, Name: "1.mp4", Init: "init-1.mp4"}},
	} {
		if err := s.Segment("720p", c.seg, segs[0].data); err == nil {
			t.Errorf("%s: Segment succeeded", c.name)
		}
	}
	if st := r.Stats(); st.Dropped != 0 {
		t.Errorf("refused names counted as %d dropped segments", st.Dropped)
	}
	// The init section was never given: the segment cannot be played.
	if err := s.Segment("720p", segmentInfo(1, segs[0], 0), segs[0].data); err == nil {
		t.Error("a segment whose init section the session lacks was taken")
	}
	if st := r.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v: want the segment without its init section dropped", st)
	}
	feed(t, s, "720p", 2, segs, 0)
	s.End()
	if err := s.Init("720p", "init-9.mp4", init); !errors.Is(err, ErrEnded) {
		t.Errorf("Init after End: %v, want ErrEnded", err)
	}
	waitDone(t, s, 10*time.Second)

	p := checkVOD(t, b, s.Playlist(), segs)
	if !p.entries[0].discontinuity {
		t.Error("the segment after the dropped one is not a discontinuity")
	}
	data, _ := b.Get(context.Background(), s.Playlist())
	if n := strings.Count(string(data), "#EXT-X-MAP:"); n != 2 {
		t.Errorf("%d EXT-X-MAP tags, want 2, where the init section changes:\n%s", n, data)
	}
	objs, err := b.List(context.Background(), "pb/")
	if err != nil {
		t.Fatal(err)
	}
	var inits []string
	for _, o := range objs {
		if strings.HasSuffix(o.Name, ".mp4") {
			inits = append(inits, o.Name)
		}
	}
	want := "pb/" + s.ID() + "/720p/init-1.mp4 pb/" + s.ID() + "/720p/init-3.mp4"
	if strings.Join(inits, " ") != want {
		t.Errorf("init sections in the backend %v, want %s", inits, want)
	}
	list, err := r.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 || list[0].State != StateIncomplete || list[0].Dropped != 1 || list[0].Segments != len(segs) {
		t.Errorf("Sessions = %+v, %v; want one incomplete, 1 dropped, %d segments", list, err, len(segs))
	}
}
