package record

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// Session is the recording of one publish. Init, Segment and End may be
// called from any goroutine; the init sections and segments of one
// rendition must come in order, one call at a time.
type Session struct {
	r   *Recorder
	m   *manifest // PlaybackID, Session, StartedAt, Renditions: fixed
	log *slog.Logger
	dir string // in the spool
	// ladder names every rendition of the stream, recorded or not; nil
	// for a recovered session.
	ladder map[string]bool

	recovered   bool // found in the spool by New
	interrupted bool // recovered without its end line: the process died mid-stream

	mu       sync.Mutex
	file     *os.File // the manifest, open for appends until End
	queue    []pending
	lastSeq  map[string]int64
	inits    map[string]bool // "<rendition>/<name>" of the init sections taken
	discNext map[string]bool // a segment was dropped: the next one follows a gap
	ended    bool
	dropped  int // segments missing from the recording
	uploaded struct {
		segments int
		bytes    int64
		duration time.Duration // of the first recorded rendition
	}

	wake chan struct{} // cap 1: the queue grew, or End
	done chan struct{} // closed when run returns
}

// pending is a segment in the session's upload queue.
type pending struct {
	rendition string
	seg       hlsmux.SegmentInfo // an init section's: Name and Size
	init      bool               // an fMP4 init section, not a segment
	spoolSize int64              // bytes it holds in the spool
	spooledAt time.Time          // when Segment returned; zero when recovered
	uploaded  bool               // recovered: already out of the spool, so in the backend
}

func newSession(r *Recorder, m *manifest) *Session {
	s := &Session{
		r: r, m: m, dir: r.sessionDir(m.PlaybackID, m.Session),
		lastSeq: map[string]int64{}, inits: map[string]bool{}, discNext: map[string]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	s.log = r.log.With("playback_id", m.PlaybackID, "session", sessionName(m.Session))
	return s
}

// ID is the session id: its start time in Unix ms, unique per playback id.
func (s *Session) ID() string { return sessionName(s.m.Session) }

// Playlist is the backend name of the recording's playlist,
// "<playback id>/vod-<session id>.m3u8".
func (s *Session) Playlist() string { return vodName(s.m.PlaybackID, s.m.Session) }

// Done is closed when the session is over: its VOD playlist is in the
// backend, or the Recorder was closed first (the rest stays spooled).
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) key() string { return s.m.PlaybackID + "/" + sessionName(s.m.Session) }

func (s *Session) recorded(rendition string) bool {
	for _, v := range s.m.Renditions {
		if v.Name == rendition {
			return true
		}
	}
	return false
}

// spoolPath is where a segment or init section named file ("<seq>.ts",
// "<seq>.m4s", "init-<seq>.mp4") of rendition waits in the spool.
func (s *Session) spoolPath(rendition, file string) string {
	return filepath.Join(s.dir, rendition, file)
}

// createManifest makes the session's spool directory and writes the
// manifest's start line, durably.
func (s *Session) createManifest() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create spool directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, manifestName), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create manifest: %w", err)
	}
	if err := appendSync(f, startLine(s.m)); err != nil {
		f.Close()
		os.RemoveAll(s.dir)
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.RemoveAll(s.dir)
		return fmt.Errorf("write manifest: %w", err)
	}
	s.file = f
	return nil
}

func appendSync(f *os.File, line []byte) error {
	if _, err := f.Write(line); err != nil {
		return err
	}
	return f.Sync()
}

// Segment records one complete segment of rendition: seg says its Seq,
// Duration, StartPTS, Discontinuity, ProgramDateTime and, for fMP4, Init
// (its init section's name, as hlsmux names it in the rendition's folder);
// its Name's extension, ".ts" or ".m4s", is kept (a Name without one
// means ".m4s" with an Init and ".ts" without); Size and Parts are the
// session's to set. It writes data to the spool and fsyncs it before it
// returns, and queues the upload; it never waits for the backend. The
// caller may reuse data afterwards.
//
// An fMP4 segment's init section must have been given to Init first: a
// segment whose Init the session does not hold is dropped (the recording
// could not play it).
//
// A rendition the session does not record (any but the top one, with
// RenditionsTop) is ignored. When the spool is full the segment is
// dropped and ErrSpoolFull returned; the recording then lacks it, and the
// next segment of its rendition is marked as a discontinuity.
func (s *Session) Segment(rendition string, seg hlsmux.SegmentInfo, data []byte) error {
	start := time.Now()
	if !s.recorded(rendition) {
		if s.known(rendition) {
			return nil
		}
		return fmt.Errorf("record segment of %s: rendition %q is not in the session's ladder", s.m.PlaybackID, rendition)
	}
	ext, err := segmentExt(seg)
	if err != nil {
		return fmt.Errorf("record segment of %s: %s seq %d: %w", s.m.PlaybackID, rendition, seg.Seq, err)
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrEnded
	}
	if last, ok := s.lastSeq[rendition]; ok && seg.Seq <= last {
		s.mu.Unlock()
		return fmt.Errorf("record segment of %s: %s seq %d is not after %d", s.m.PlaybackID, rendition, seg.Seq, last)
	}
	if seg.Seq < 0 || seg.Duration < 0 || seg.Duration > maxSegmentDuration || len(data) > maxSegmentSize {
		s.mu.Unlock()
		return fmt.Errorf("record segment of %s: %s seq %d: bad seq, duration %v or size %d", s.m.PlaybackID, rendition, seg.Seq, seg.Duration, len(data))
	}
	s.lastSeq[rendition] = seg.Seq
	seg.Discontinuity = seg.Discontinuity || s.discNext[rendition]
	haveInit := seg.Init == "" || s.inits[rendition+"/"+seg.Init]
	s.mu.Unlock()
	if !haveInit {
		s.drop(rendition, seg.Seq)
		return fmt.Errorf("record segment of %s: %s seq %d: init section %q not recorded", s.m.PlaybackID, rendition, seg.Seq, seg.Init)
	}

	n := int64(len(data))
	if s.r.spoolBytes.Add(n) > s.r.cfg.SpoolMaxBytes {
		s.r.spoolBytes.Add(-n)
		s.r.logSpoolFull(s.log)
		s.drop(rendition, seg.Seq)
		return ErrSpoolFull
	}
	seg.Name, seg.Size, seg.Parts = segmentFile(seg.Seq, ext), len(data), nil
	if err := writeFileSync(s.spoolPath(rendition, seg.Name), data, 0o644); err != nil {
		s.r.spoolBytes.Add(-n)
		s.log.Error("write segment to the spool", "rendition", rendition, "seq", seg.Seq, "err", err)
		s.drop(rendition, seg.Seq)
		return fmt.Errorf("record segment of %s: spool %s seq %d: %w", s.m.PlaybackID, rendition, seg.Seq, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil { // End came while the segment was written: not a loss
		os.Remove(s.spoolPath(rendition, seg.Name))
		s.r.spoolBytes.Add(-n)
		return ErrEnded
	}
	if err := appendSync(s.file, entryLine(manifestEntry{Rendition: rendition, Seg: seg})); err != nil {
		os.Remove(s.spoolPath(rendition, seg.Name))
		s.r.spoolBytes.Add(-n)
		s.log.Error("write manifest", "rendition", rendition, "seq", seg.Seq, "err", err)
		s.dropLocked(rendition, seg.Seq)
		return fmt.Errorf("record segment of %s: spool %s seq %d: %w", s.m.PlaybackID, rendition, seg.Seq, err)
	}
	s.discNext[rendition] = false
	s.queue = append(s.queue, pending{rendition: rendition, seg: seg, spoolSize: n, spooledAt: time.Now()})
	s.signal()
	s.r.spoolLat.add(time.Since(start))
	return nil
}

// segmentExt is the extension seg's file keeps (see Segment).
func segmentExt(seg hlsmux.SegmentInfo) (string, error) {
	ext := path.Ext(seg.Name)
	switch {
	case ext == "" && seg.Init == "":
		return extTS, nil
	case ext == "":
		return extM4S, nil
	case ext == extTS && seg.Init != "":
		return "", fmt.Errorf("an MPEG-TS segment with an init section")
	case ext == extM4S && seg.Init == "":
		return "", fmt.Errorf("an fMP4 segment without an init section")
	case ext != extTS && ext != extM4S:
		return "", fmt.Errorf("name %q: want %s or %s", seg.Name, extTS, extM4S)
	}
	return ext, nil
}

// Init records the fMP4 init section of rendition named name, as hlsmux
// names it in the rendition's folder ("init-<seq>.mp4") and as the
// segments that use it give it in SegmentInfo.Init. Like a segment, it is
// written to the spool and fsynced before Init returns, and uploaded
// once, before those segments, as
// "<playback id>/<session id>/<rendition>/<name>". A name the session
// already holds is not written again (Init returns nil at once), so a
// caller may hand it over with every segment. The caller may reuse data
// afterwards.
//
// A rendition the session does not record is ignored. When the spool is
// full, ErrSpoolFull is returned and the segments that use the init
// section are dropped until an Init of it succeeds.
func (s *Session) Init(rendition, name string, data []byte) error {
	if !s.recorded(rendition) {
		if s.known(rendition) {
			return nil
		}
		return fmt.Errorf("record init section of %s: rendition %q is not in the session's ladder", s.m.PlaybackID, rendition)
	}
	if !validInitName(name) || len(data) > maxInitSize {
		return fmt.Errorf("record init section of %s: %s %q of %d bytes: want init-<seq>%s of at most %d bytes",
			s.m.PlaybackID, rendition, name, len(data), extInit, maxInitSize)
	}
	key := rendition + "/" + name
	s.mu.Lock()
	switch {
	case s.ended:
		s.mu.Unlock()
		return ErrEnded
	case s.inits[key]:
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	n := int64(len(data))
	if s.r.spoolBytes.Add(n) > s.r.cfg.SpoolMaxBytes {
		s.r.spoolBytes.Add(-n)
		s.r.logSpoolFull(s.log)
		return ErrSpoolFull
	}
	p := s.spoolPath(rendition, name)
	if err := writeFileSync(p, data, 0o644); err != nil {
		s.r.spoolBytes.Add(-n)
		return fmt.Errorf("record init section of %s: spool %s %s: %w", s.m.PlaybackID, rendition, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil { // End came while it was written
		os.Remove(p)
		s.r.spoolBytes.Add(-n)
		return ErrEnded
	}
	seg := hlsmux.SegmentInfo{Name: name, Size: len(data)}
	if err := appendSync(s.file, entryLine(manifestEntry{Rendition: rendition, Seg: seg, Init: true})); err != nil {
		os.Remove(p)
		s.r.spoolBytes.Add(-n)
		return fmt.Errorf("record init section of %s: spool %s %s: %w", s.m.PlaybackID, rendition, name, err)
	}
	s.inits[key] = true
	s.queue = append(s.queue, pending{rendition: rendition, seg: seg, init: true, spoolSize: n, spooledAt: time.Now()})
	s.signal()
	return nil
}

// known reports whether rendition is in the ladder the session started with
// (with RenditionsTop, the others are known but not recorded). The
// manifest keeps only the recorded ones, so the rest are remembered here.
func (s *Session) known(rendition string) bool { return s.ladder[rendition] }

// drop counts a segment that is not in the recording, and notes it in the
// manifest (so a recovered session knows it is incomplete).
func (s *Session) drop(rendition string, seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(rendition, seq)
}

func (s *Session) dropLocked(rendition string, seq int64) {
	s.r.dropped.Add(1)
	s.dropped++
	s.discNext[rendition] = true
	if s.file != nil {
		if err := appendSync(s.file, entryLine(manifestEntry{Rendition: rendition, Seg: hlsmux.SegmentInfo{Seq: seq}, Dropped: true})); err != nil {
			s.log.Error("write manifest", "err", err)
		}
	}
}

// End ends the session: no segment is accepted after it, and once every
// spooled segment is in the backend the playlist is rewritten as a VOD
// (Done is closed then). It does not wait for that; calling it again does
// nothing.
func (s *Session) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if s.file != nil {
		if err := appendSync(s.file, endLine()); err != nil {
			s.log.Error("write manifest", "err", err)
		}
		s.file.Close()
		s.file = nil
	}
	s.signal()
	s.log.Info("recording ended", "dropped", s.dropped)
}

func (s *Session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
