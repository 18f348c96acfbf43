package record

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// Names of a session's objects in the backend (see the package doc).
func vodName(playbackID string, id int64) string {
	return playbackID + "/vod-" + sessionName(id) + ".m3u8"
}

func (s *Session) objectPrefix() string { return s.m.PlaybackID + "/" + sessionName(s.m.Session) + "/" }

// segmentObject is the object of a segment or init section named file
// ("<seq>.ts", "<seq>.m4s", "init-<seq>.mp4") of rendition.
func (s *Session) segmentObject(rendition, file string) string {
	return s.objectPrefix() + rendition + "/" + file
}

func (s *Session) infoObject() string { return s.objectPrefix() + sessionInfoName }

// single reports whether the recording is one rendition, whose media
// playlist is vod-<session id>.m3u8 itself (RenditionsTop).
func (s *Session) single() bool { return !s.m.Master }

// mediaPlaylistObject is the name of rendition's media playlist.
func (s *Session) mediaPlaylistObject(rendition string) string {
	if s.single() {
		return vodName(s.m.PlaybackID, s.m.Session)
	}
	return s.objectPrefix() + rendition + "/index.m3u8"
}

// segmentURI is the URI of a segment or init section named file, relative
// to its media playlist.
func (s *Session) segmentURI(rendition, file string) string {
	if s.single() {
		return sessionName(s.m.Session) + "/" + rendition + "/" + file
	}
	return file
}

// uploader is the state of a session's run goroutine, which alone owns it.
type uploader struct {
	playlists map[string]*hlsmux.MediaPlaylist
	gap       map[string]bool // a segment of the rendition is missing: mark the next
	// lost holds the init sections ("<rendition>/<name>") that are
	// neither in the spool nor in the backend: the segments that use
	// them are left out, since no player could decode them.
	lost     map[string]bool
	failures int // consecutive failed attempts, for rate-limited logs
}

// run uploads the session's segments in the order they were accepted,
// rewriting the EVENT playlist after each, so the playlist never lists a
// segment that is not in the backend. Once the session has ended and its
// queue is empty it writes the VOD playlists and the final session info,
// and clears the session's spool. A cancelled ctx stops it where it is;
// the spool keeps the rest for the next Recorder. The Recorder closes done
// after it.
func (s *Session) run(ctx context.Context) {
	u := &uploader{playlists: map[string]*hlsmux.MediaPlaylist{}, gap: map[string]bool{}, lost: map[string]bool{}}
	for _, v := range s.m.Renditions {
		u.playlists[v.Name] = &hlsmux.MediaPlaylist{Type: hlsmux.Event, TargetDuration: s.r.cfg.TargetDuration}
	}
	if s.recovered {
		if err := s.reconcile(ctx, u); err != nil {
			return
		}
	}
	if err := s.putStart(ctx, u); err != nil {
		return
	}
	for {
		p, ok := s.next(ctx)
		if !ok {
			break
		}
		if err := s.upload(ctx, u, p); err != nil {
			return
		}
		s.mu.Lock()
		s.queue = s.queue[1:]
		s.mu.Unlock()
	}
	if ctx.Err() != nil {
		return
	}
	s.finish(ctx, u)
}

// next returns the oldest queued segment, waiting for one; false once the
// session has ended with an empty queue, or ctx is done.
func (s *Session) next(ctx context.Context) (pending, bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			p := s.queue[0]
			s.mu.Unlock()
			return p, true
		}
		ended := s.ended
		s.mu.Unlock()
		if ended {
			return pending{}, false
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return pending{}, false
		}
	}
}

// reconcile checks, for a recovered session, that the segments missing
// from the spool (uploaded before the crash) are in the backend; those
// that are not are counted as dropped and left out of the playlist.
func (s *Session) reconcile(ctx context.Context, u *uploader) error {
	var objs []ObjectInfo
	err := s.retry(ctx, u, "list the recording", func(ctx context.Context) error {
		var err error
		objs, err = s.r.cfg.Backend.List(ctx, s.objectPrefix())
		return err
	})
	if err != nil {
		return err
	}
	in := map[string]bool{}
	for _, o := range objs {
		in[o.Name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.queue[:0]
	for _, p := range s.queue {
		missing := p.uploaded && !in[s.segmentObject(p.rendition, p.seg.Name)]
		if p.init {
			if missing {
				s.log.Error("init section neither in the spool nor in the backend: its segments are left out of the recording",
					"rendition", p.rendition, "init", p.seg.Name)
				u.lost[p.rendition+"/"+p.seg.Name] = true
				continue
			}
			kept = append(kept, p)
			continue
		}
		if missing || p.uploaded && u.lost[p.rendition+"/"+p.seg.Init] {
			s.log.Error("segment (or its init section) neither in the spool nor in the backend: left out of the recording",
				"rendition", p.rendition, "seq", p.seg.Seq)
			s.dropped++
			s.r.dropped.Add(1)
			u.gap[p.rendition] = true
			continue
		}
		if u.gap[p.rendition] {
			p.seg.Discontinuity, u.gap[p.rendition] = true, false
		}
		kept = append(kept, p)
	}
	s.queue = kept
	return nil
}

// putStart writes the session info (state recording) and, for a
// multi-rendition recording, the empty media playlists and the master.
func (s *Session) putStart(ctx context.Context, u *uploader) error {
	if err := s.putInfo(ctx, u, StateRecording); err != nil {
		return err
	}
	if s.single() {
		return nil
	}
	// Empty EVENT playlists, so that the master's links work from the
	// start; not for a recovered session, whose playlists may already be
	// complete VODs (the crash came after finish wrote them).
	for _, v := range s.m.Renditions {
		if s.recovered {
			break
		}
		if err := s.putPlaylist(ctx, u, v.Name); err != nil {
			return err
		}
	}
	vs := make([]hlsmux.Variant, len(s.m.Renditions))
	for i, v := range s.m.Renditions {
		v.URI = sessionName(s.m.Session) + "/" + v.Name + "/index.m3u8"
		vs[i] = v
	}
	master := hlsmux.EncodeMaster(vs)
	return s.retry(ctx, u, "write the master playlist", func(ctx context.Context) error {
		return s.r.cfg.Backend.Put(ctx, vodName(s.m.PlaybackID, s.m.Session), master, playlistType, vodPlaylistCache)
	})
}

// upload puts one segment from the spool, removes it from there, and
// rewrites its rendition's playlist; or puts an init section.
func (s *Session) upload(ctx context.Context, u *uploader, p pending) error {
	if p.init {
		return s.uploadInit(ctx, u, p)
	}
	if p.seg.Init != "" && u.lost[p.rendition+"/"+p.seg.Init] {
		s.leaveOut(u, p, "segment whose init section is lost: left out of the recording", nil)
		return nil
	}
	if !p.uploaded {
		path := s.spoolPath(p.rendition, p.seg.Name)
		data, err := os.ReadFile(path)
		if err != nil {
			s.leaveOut(u, p, "read spooled segment: left out of the recording", err)
			return nil
		}
		name := s.segmentObject(p.rendition, p.seg.Name)
		err = s.retry(ctx, u, "upload segment "+name, func(ctx context.Context) error {
			return s.r.cfg.Backend.Put(ctx, name, data, contentType(name), segmentCache)
		})
		if err != nil {
			return err
		}
		if err := os.Remove(path); err != nil {
			s.log.Warn("delete uploaded segment from the spool", "err", err)
		}
		s.r.spoolBytes.Add(-p.spoolSize)
		s.r.uploaded.Add(1)
		if !p.spooledAt.IsZero() {
			s.r.uploadLat.add(time.Since(p.spooledAt))
		}
	}
	seg := p.seg
	seg.Name = s.segmentURI(p.rendition, seg.Name)
	if seg.Init != "" {
		seg.Init = s.segmentURI(p.rendition, seg.Init)
	}
	if u.gap[p.rendition] {
		seg.Discontinuity, u.gap[p.rendition] = true, false
	}
	u.playlists[p.rendition].Append(seg)
	s.mu.Lock()
	s.uploaded.segments++
	s.uploaded.bytes += int64(seg.Size)
	if p.rendition == s.m.Renditions[0].Name {
		s.uploaded.duration += seg.Duration
	}
	s.mu.Unlock()
	if p.uploaded { // recovered: the VOD playlist, written at the end, lists it
		return nil
	}
	return s.putPlaylist(ctx, u, p.rendition)
}

// uploadInit puts an init section from the spool and removes it from
// there. One that cannot be read is lost, and with it the segments that
// use it.
func (s *Session) uploadInit(ctx context.Context, u *uploader, p pending) error {
	if p.uploaded {
		return nil
	}
	path := s.spoolPath(p.rendition, p.seg.Name)
	data, err := os.ReadFile(path)
	if err != nil {
		s.log.Error("read spooled init section: its segments are left out of the recording",
			"rendition", p.rendition, "init", p.seg.Name, "err", err)
		s.r.spoolBytes.Add(-p.spoolSize)
		u.lost[p.rendition+"/"+p.seg.Name] = true
		return nil
	}
	name := s.segmentObject(p.rendition, p.seg.Name)
	err = s.retry(ctx, u, "upload init section "+name, func(ctx context.Context) error {
		return s.r.cfg.Backend.Put(ctx, name, data, contentType(name), segmentCache)
	})
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		s.log.Warn("delete uploaded init section from the spool", "err", err)
	}
	s.r.spoolBytes.Add(-p.spoolSize)
	return nil
}

// leaveOut counts p, a segment that will not be in the recording, logs
// why, deletes its spooled file, and marks the next segment of its
// rendition as a discontinuity.
func (s *Session) leaveOut(u *uploader, p pending, why string, err error) {
	attrs := []any{"rendition", p.rendition, "seq", p.seg.Seq}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	s.log.Error(why, attrs...)
	if !p.uploaded {
		os.Remove(s.spoolPath(p.rendition, p.seg.Name))
		s.r.spoolBytes.Add(-p.spoolSize)
	}
	s.r.dropped.Add(1)
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
	u.gap[p.rendition] = true
}

// putPlaylist writes rendition's media playlist as it stands.
func (s *Session) putPlaylist(ctx context.Context, u *uploader, rendition string) error {
	pl := u.playlists[rendition]
	body, cache := pl.Encode(), eventPlaylistCache
	if pl.Type == hlsmux.VOD {
		cache = vodPlaylistCache
	}
	name := s.mediaPlaylistObject(rendition)
	return s.retry(ctx, u, "write playlist "+name, func(ctx context.Context) error {
		return s.r.cfg.Backend.Put(ctx, name, body, playlistType, cache)
	})
}

// finish turns the playlists into VODs, writes the final session info and
// clears the session's spool.
func (s *Session) finish(ctx context.Context, u *uploader) {
	for _, v := range s.m.Renditions {
		u.playlists[v.Name].Type = hlsmux.VOD
		if err := s.putPlaylist(ctx, u, v.Name); err != nil {
			return
		}
	}
	s.mu.Lock()
	dropped := s.dropped
	s.mu.Unlock()
	state := StateComplete
	if dropped > 0 {
		state = StateIncomplete
	}
	if err := s.putInfo(ctx, u, state); err != nil {
		return
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.log.Warn("clear the session's spool", "err", err)
	}
	os.Remove(filepath.Dir(s.dir)) // the playback id's, when it was the last
	s.log.Info("recording complete", "state", state, "interrupted", s.interrupted,
		"segments", s.uploaded.segments, "dropped", dropped, "playlist", s.Playlist())
}

// retry calls put until it succeeds or ctx is done, waiting between
// attempts from MinBackoff, doubling up to MaxBackoff, with jitter (so
// that the sessions of a server do not hammer storage coming back all at
// once). It logs the first failure and then every 8th.
func (s *Session) retry(ctx context.Context, u *uploader, what string, put func(context.Context) error) error {
	wait := s.r.cfg.MinBackoff
	for {
		actx, cancel := context.WithTimeout(ctx, s.r.cfg.UploadTimeout)
		err := put(actx)
		cancel()
		if err == nil {
			if u.failures > 0 {
				s.log.Info("storage reachable again", "failed_attempts", u.failures)
				u.failures = 0
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.r.failed.Add(1)
		if u.failures%8 == 0 {
			s.log.Warn(what+": retrying", "err", err, "failed_attempts", u.failures+1)
		}
		u.failures++
		d := wait/2 + rand.N(wait/2+1)
		wait = min(2*wait, s.r.cfg.MaxBackoff)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}
