package hlsmux

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeStore is a Store whose methods the test sets.
type fakeStore struct {
	put func(name string, data []byte) error
	del func(name string) error
}

func (f *fakeStore) Put(name string, data []byte) error { return f.put(name, data) }
func (f *fakeStore) Get(string) ([]byte, error)         { return nil, ErrNotFound }
func (f *fakeStore) Delete(name string) error           { return f.del(name) }

// TestSegmenterStoreErrors: the store refuses one write. The error is
// returned (wrapped with the action), the segmenter goes on, and the
// playlist stays valid: a refused segment's number is used by the next one,
// which is marked as a discontinuity.
func TestSegmenterStoreErrors(t *testing.T) {
	errFull := errors.New("disk full")
	for _, tc := range []struct {
		name      string
		typ       PlaylistType
		failPut   string // the name whose first Put fails
		failDel   string // the name whose first Delete fails
		wantText  string
		wantSeqs  []int64 // segments listed at the end
		wantDisc  int64   // the segment marked as a discontinuity (-1: none)
		callbacks int
	}{
		{"segment", Event, "x/1.ts", "", "put segment: disk full", []int64{0, 1, 2, 3}, 1, 4},
		{"playlist", Event, "x/index.m3u8", "", "put playlist: disk full", []int64{0, 1, 2, 3, 4}, -1, 4},
		{"delete", Live, "", "x/0.ts", "delete expired segment: disk full", []int64{0, 1, 2, 3, 4}, -1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := NewMemoryStore()
			failed := false
			fail := func(name, target string) error {
				if name == target && !failed {
					failed = true
					return errFull
				}
				return nil
			}
			st := &fakeStore{
				put: func(name string, data []byte) error {
					if err := fail(name, tc.failPut); err != nil {
						return err
					}
					return mem.Put(name, data)
				},
				del: func(name string) error {
					if err := fail(name, tc.failDel); err != nil {
						return err
					}
					return mem.Delete(name)
				},
			}
			var c collect
			s, err := NewSegmenter(SegmenterConfig{Dir: "x", Store: st, Type: tc.typ, TargetDuration: time.Second,
				Window: 1, Grace: time.Nanosecond, Video: true, OnSegment: c.add})
			if err != nil {
				t.Fatal(err)
			}
			var errs []error
			for _, v := range synthVideo(0, 5, fps, false) {
				if err := s.WriteVideo(v); err != nil {
					errs = append(errs, err)
				}
			}
			if err := s.Close(); err != nil {
				errs = append(errs, err)
			}
			if len(errs) != 1 || !errors.Is(errs[0], errFull) || errs[0].Error() != tc.wantText {
				t.Fatalf("errors %v, want one %q", errs, tc.wantText)
			}
			if len(c.infos) != tc.callbacks {
				t.Errorf("OnSegment called %d times, want %d", len(c.infos), tc.callbacks)
			}
			var seqs []int64
			for _, info := range s.Playlist().Segments() {
				seqs = append(seqs, info.Seq)
				if info.Discontinuity != (info.Seq == tc.wantDisc) {
					t.Errorf("segment %d: discontinuity %v", info.Seq, info.Discontinuity)
				}
			}
			if tc.typ == Live {
				seqs = nil
				for _, info := range c.infos {
					seqs = append(seqs, info.Seq)
				}
				// 0.ts failed to go once and went at the next cut; 3.ts left
				// the window at the last cut, and its grace is not over.
				if got := mem.List("x/"); !slices.Equal(got, []string{"x/3.ts", "x/4.ts", "x/index.m3u8"}) {
					t.Errorf("stored %v", got)
				}
			}
			if !slices.Equal(seqs, tc.wantSeqs) {
				t.Errorf("segments %v, want %v", seqs, tc.wantSeqs)
			}
			pl, _ := mem.Get("x/index.m3u8")
			if !bytes.HasSuffix(pl, []byte("#EXT-X-ENDLIST\n")) {
				t.Errorf("final playlist:\n%s", pl)
			}
		})
	}
}

func TestSegmenterPlaylistWrites(t *testing.T) {
	for _, typ := range []PlaylistType{Live, Event, VOD} {
		puts := 0
		st := &fakeStore{
			put: func(name string, _ []byte) error {
				if strings.HasSuffix(name, "index.m3u8") {
					puts++
				}
				return nil
			},
			del: func(string) error { return nil },
		}
		s, err := NewSegmenter(SegmenterConfig{Store: st, Type: typ, TargetDuration: time.Second, Video: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range synthVideo(0, 5, fps, false) {
			if err := s.WriteVideo(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Five segments: Live and Event write the playlist at each cut and at
		// Close, VOD only at Close.
		if want := map[PlaylistType]int{Live: 6, Event: 6, VOD: 1}[typ]; puts != want {
			t.Errorf("type %d: playlist written %d times, want %d", typ, puts, want)
		}
	}
}
