package record

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// Recorder records live streams: one per server. It owns the spool, one
// upload goroutine per session, and the retention sweep.
type Recorder struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the Recorder starts

	recovered chan struct{} // closed when the sessions found by New are done

	mu       sync.Mutex
	closed   bool
	sessions map[string]*Session // by spool key "<playback id>/<session id>"
	lastID   map[string]int64    // last session id given, by playback id

	uploaded, failed, dropped atomic.Int64
	spoolBytes                atomic.Int64
	uploadLat, spoolLat       latencies

	dropLogMu   sync.Mutex
	dropLogAt   time.Time // last "spool full" log
	dropsUnlogd int       // drops since then
}

// New returns a Recorder writing through cfg.Backend. Sessions that a
// previous process left in cfg.SpoolDir (it crashed, or Close gave up) are
// read now and completed in the background: their segments uploaded and
// their VOD playlists written. Recovered is closed when that is done.
func New(cfg Config) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("record config: %w", err)
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.SpoolDir, 0o755); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		recovered: make(chan struct{}),
		sessions:  map[string]*Session{},
		lastID:    map[string]int64{},
	}
	found, err := r.scanSpool()
	if err != nil {
		cancel()
		return nil, err
	}
	for _, s := range found {
		r.startSession(s)
	}
	r.wg.Go(func() {
		defer close(r.recovered)
		for _, s := range found {
			select {
			case <-s.done:
			case <-ctx.Done():
				return
			}
		}
	})
	if cfg.MaxAge > 0 {
		r.wg.Go(r.sweepLoop)
	}
	return r, nil
}

// Recovered is closed once every session New found in the spool is
// complete in the backend (or Close stopped the recorder).
func (r *Recorder) Recovered() <-chan struct{} { return r.recovered }

// Start begins a recording session of the stream playbackID, published at
// startedAt, whose ladder is renditions (each with its Name, and the
// Bandwidth used to choose the top one; URI is ignored). It writes the
// session's manifest to the spool, and does not reach the backend.
func (r *Recorder) Start(playbackID string, startedAt time.Time, renditions []hlsmux.Variant) (*Session, error) {
	if err := checkPart("playback id", playbackID); err != nil {
		return nil, fmt.Errorf("start recording: %w", err)
	}
	rec, err := r.chooseRenditions(renditions)
	if err != nil {
		return nil, fmt.Errorf("start recording of %s: %w", playbackID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	id := max(startedAt.UnixMilli(), r.lastID[playbackID]+1, 1)
	for {
		_, err := os.Stat(r.sessionDir(playbackID, id))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		id++
	}
	r.lastID[playbackID] = id
	m := &manifest{PlaybackID: playbackID, Session: id, StartedAt: startedAt, Renditions: rec, Master: r.cfg.Renditions == RenditionsAll}
	s := newSession(r, m)
	s.ladder = map[string]bool{}
	for _, v := range renditions {
		s.ladder[v.Name] = true
	}
	if err := s.createManifest(); err != nil {
		return nil, fmt.Errorf("start recording of %s: %w", playbackID, err)
	}
	r.startSessionLocked(s)
	s.log.Info("recording started", "renditions", renditionNames(rec))
	return s, nil
}

// chooseRenditions returns the renditions a session records, checked.
func (r *Recorder) chooseRenditions(vs []hlsmux.Variant) ([]hlsmux.Variant, error) {
	if len(vs) == 0 || len(vs) > maxRenditions {
		return nil, fmt.Errorf("%d renditions: want 1 to %d", len(vs), maxRenditions)
	}
	seen := map[string]bool{}
	top := 0
	for i, v := range vs {
		if err := checkPart("rendition", v.Name); err != nil {
			return nil, err
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("rendition %q twice", v.Name)
		}
		if !validCodecs(v.Codecs) {
			return nil, fmt.Errorf("rendition %q: codecs %q: want letters, digits and .,-_", v.Name, v.Codecs)
		}
		if v.Bandwidth < 0 || v.AverageBandwidth < 0 || v.Width < 0 || v.Height < 0 || v.FrameRate < 0 {
			return nil, fmt.Errorf("rendition %q: a negative bandwidth, size or frame rate", v.Name)
		}
		seen[v.Name] = true
		if v.Bandwidth > vs[top].Bandwidth || v.Bandwidth == vs[top].Bandwidth && v.Height > vs[top].Height {
			top = i
		}
	}
	out := make([]hlsmux.Variant, 0, len(vs))
	for i, v := range vs {
		if r.cfg.Renditions == RenditionsAll || i == top {
			v.URI = ""
			out = append(out, v)
		}
	}
	return out, nil
}

func renditionNames(vs []hlsmux.Variant) []string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return names
}

func (r *Recorder) sessionDir(playbackID string, id int64) string {
	return filepath.Join(r.cfg.SpoolDir, playbackID, sessionName(id))
}

func (r *Recorder) startSession(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startSessionLocked(s)
}

func (r *Recorder) startSessionLocked(s *Session) {
	r.sessions[s.key()] = s
	r.wg.Go(func() {
		s.run(r.ctx)
		r.mu.Lock()
		delete(r.sessions, s.key())
		r.mu.Unlock()
		close(s.done) // after: once Done, Sessions reads the backend's info
	})
}

// scanSpool reads every session manifest under the spool, deletes what no
// manifest accounts for (temporary files, segment files whose line was
// never written), counts the spooled bytes, and returns the sessions.
// A manifest that cannot be read is logged and its session left alone.
func (r *Recorder) scanSpool() ([]*Session, error) {
	pids, err := os.ReadDir(r.cfg.SpoolDir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	var found []*Session
	for _, pd := range pids {
		if !pd.IsDir() || checkPart("playback id", pd.Name()) != nil {
			continue
		}
		sids, err := os.ReadDir(filepath.Join(r.cfg.SpoolDir, pd.Name()))
		if err != nil {
			return nil, fmt.Errorf("read spool directory: %w", err)
		}
		for _, sd := range sids {
			id, err := strconv.ParseInt(sd.Name(), 10, 64)
			if !sd.IsDir() || err != nil || sessionName(id) != sd.Name() {
				continue
			}
			dir := filepath.Join(r.cfg.SpoolDir, pd.Name(), sd.Name())
			s, err := r.recoverSession(dir, pd.Name(), id)
			if err != nil {
				r.log.Error("recording left in the spool cannot be recovered; its files stay for a human to look at",
					"dir", dir, "err", err)
				continue
			}
			found = append(found, s)
		}
	}
	return found, nil
}

// recoverSession reads one spooled session.
func (r *Recorder) recoverSession(dir, playbackID string, id int64) (*Session, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) { // Start crashed before its first line
		return nil, os.RemoveAll(dir)
	}
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, err
	}
	if m.PlaybackID != playbackID || m.Session != id {
		return nil, fmt.Errorf("manifest of %s/%d found under %s", m.PlaybackID, m.Session, dir)
	}
	s := newSession(r, m)
	s.recovered, s.interrupted, s.ended = true, !m.Ended, true
	spooled := map[string]bool{}
	for _, e := range m.Entries {
		if e.Dropped {
			s.dropped++
			continue
		}
		p := s.spoolPath(e.Rendition, e.Seg.Name)
		spooled[p] = true
		st, err := os.Stat(p)
		pend := pending{rendition: e.Rendition, seg: e.Seg, init: e.Init}
		if e.Init {
			s.inits[e.Rendition+"/"+e.Seg.Name] = true
		}
		switch {
		case err == nil:
			pend.spoolSize = st.Size()
			r.spoolBytes.Add(st.Size())
		case errors.Is(err, fs.ErrNotExist):
			pend.uploaded = true // deleted from the spool only once uploaded; checked against the backend
		default:
			return nil, err
		}
		s.queue = append(s.queue, pend)
	}
	// Files no manifest line accounts for: a Segment cut by the crash.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == manifestName || spooled[p] {
			return err
		}
		r.log.Debug("deleting spooled file no manifest line accounts for", "file", p)
		return os.Remove(p)
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.lastID[playbackID] = max(r.lastID[playbackID], id)
	r.mu.Unlock()
	s.log.Info("recording found in the spool", "interrupted", s.interrupted, "segments", len(s.queue))
	return s, nil
}

// Close ends every open session (as its stream ending would), waits until
// ctx is done for their uploads to finish, then stops. What is not
// uploaded stays in the spool for the next New. It returns ctx.Err() when
// it had to stop uploads.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	open := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		open = append(open, s)
	}
	r.mu.Unlock()
	for _, s := range open {
		s.End()
	}
	var err error
	for _, s := range open {
		select {
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	r.cancel()
	r.wg.Wait()
	return err
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	n := len(r.sessions)
	r.mu.Unlock()
	st := Stats{
		Uploaded: r.uploaded.Load(), FailedAttempts: r.failed.Load(),
		SpoolBytes: r.spoolBytes.Load(), Dropped: r.dropped.Load(), Sessions: n,
	}
	st.UploadP50, st.UploadP99 = r.uploadLat.percentiles()
	st.SpoolWriteP50, st.SpoolWriteP99 = r.spoolLat.percentiles()
	return st
}

// spoolFullLogEvery rate-limits the "spool full" error log: while the
// storage is down, every segment of every stream would log it.
const spoolFullLogEvery = 10 * time.Second

// logSpoolFull counts a dropped segment and logs at most every
// spoolFullLogEvery.
func (r *Recorder) logSpoolFull(log *slog.Logger) {
	r.dropLogMu.Lock()
	defer r.dropLogMu.Unlock()
	r.dropsUnlogd++
	if now := time.Now(); now.Sub(r.dropLogAt) >= spoolFullLogEvery {
		log.Error("recording spool full: segments are dropped until the storage takes uploads again",
			"spool_bytes", r.spoolBytes.Load(), "spool_max_bytes", r.cfg.SpoolMaxBytes, "dropped_since_last_log", r.dropsUnlogd)
		r.dropLogAt, r.dropsUnlogd = now, 0
	}
}
