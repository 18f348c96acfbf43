package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is where a recording session stands.
type State string

const (
	// StateRecording: the stream is live, or the recording is still
	// being uploaded; its playlist is an EVENT playlist.
	StateRecording State = "recording"
	// StateComplete: the VOD playlist lists every segment the session
	// accepted.
	StateComplete State = "complete"
	// StateIncomplete: the VOD playlist is written, but segments are
	// missing (dropped when the spool was full, or lost); playback jumps
	// over them.
	StateIncomplete State = "incomplete"
)

// sessionInfoName is the session info object under the session's prefix.
const sessionInfoName = "session.json"

// SessionInfo describes one recording session, for listings.
type SessionInfo struct {
	PlaybackID string `json:"playback_id"`
	// ID is the session id: its start time in Unix ms, made unique.
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	// Duration is the sum of the uploaded segments' durations (of the
	// first recorded rendition).
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON.
	DurationMS int64 `json:"duration_ms"`
	// Size is the bytes of every uploaded segment.
	Size     int64 `json:"size"`
	Segments int   `json:"segments"`
	// Dropped counts segments missing from the recording.
	Dropped int   `json:"dropped"`
	State   State `json:"state"`
	// Interrupted says the recording process died mid-stream; a later
	// Recorder completed the VOD from its spool.
	Interrupted bool     `json:"interrupted,omitempty"`
	Renditions  []string `json:"renditions"`
	// Playlist is the backend name of the recording's playlist,
	// "<playback id>/vod-<session id>.m3u8".
	Playlist string `json:"playlist"`
}

// info is the session's SessionInfo now.
func (s *Session) info(state State) SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SessionInfo{
		PlaybackID: s.m.PlaybackID, ID: sessionName(s.m.Session), Start: s.m.StartedAt.UTC(),
		Duration: s.uploaded.duration, DurationMS: s.uploaded.duration.Milliseconds(),
		Size: s.uploaded.bytes, Segments: s.uploaded.segments, Dropped: s.dropped,
		State: state, Interrupted: s.interrupted, Renditions: renditionNames(s.m.Renditions), Playlist: s.Playlist(),
	}
}

// putInfo writes the session info object.
func (s *Session) putInfo(ctx context.Context, u *uploader, state State) error {
	body, err := json.Marshal(s.info(state))
	if err != nil {
		return err
	}
	return s.retry(ctx, u, "write session info", func(ctx context.Context) error {
		return s.r.cfg.Backend.Put(ctx, s.infoObject(), body, sessionInfoType, sessionInfoCache)
	})
}

// Sessions lists the recording sessions of playbackID in the backend,
// oldest first. Those this Recorder is recording report their progress
// now; a session a crashed process was recording reads "recording" until
// a Recorder on its spool completes it.
func (r *Recorder) Sessions(ctx context.Context, playbackID string) ([]SessionInfo, error) {
	if err := checkPart("playback id", playbackID); err != nil {
		return nil, err
	}
	objs, err := r.cfg.Backend.List(ctx, playbackID+"/")
	if err != nil {
		return nil, fmt.Errorf("list recordings of %s: %w", playbackID, err)
	}
	byID := map[string]SessionInfo{}
	for _, o := range objs {
		parts := strings.Split(o.Name, "/")
		if len(parts) != 3 || parts[2] != sessionInfoName {
			continue
		}
		data, err := r.cfg.Backend.Get(ctx, o.Name)
		if errors.Is(err, ErrNotFound) { // deleted meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list recordings of %s: %w", playbackID, err)
		}
		var si SessionInfo
		if err := json.Unmarshal(data, &si); err != nil || si.PlaybackID != playbackID || si.ID != parts[1] {
			r.log.Warn("unreadable session info left out of the list", "object", o.Name, "err", err)
			continue
		}
		si.Duration = time.Duration(si.DurationMS) * time.Millisecond
		byID[si.ID] = si
	}
	r.mu.Lock()
	for _, s := range r.sessions {
		if s.m.PlaybackID != playbackID {
			continue
		}
		byID[s.ID()] = s.info(StateRecording)
	}
	r.mu.Unlock()
	list := make([]SessionInfo, 0, len(byID))
	for _, si := range byID {
		list = append(list, si)
	}
	slices.SortFunc(list, func(a, b SessionInfo) int { return strings.Compare(a.ID, b.ID) })
	return list, nil
}

// sessionOf returns the playback id and session id a recording's object
// belongs to ("abc/vod-17.m3u8", "abc/17/720p/1.ts" → "abc", 17).
func sessionOf(name string) (playbackID string, id int64, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return "", 0, false
	}
	sid := parts[1]
	if len(parts) == 2 {
		var found bool
		if sid, found = strings.CutPrefix(sid, "vod-"); !found {
			return "", 0, false
		}
		if sid, found = strings.CutSuffix(sid, ".m3u8"); !found {
			return "", 0, false
		}
	}
	id, err := strconv.ParseInt(sid, 10, 64)
	if err != nil || sessionName(id) != sid {
		return "", 0, false
	}
	return parts[0], id, true
}

// Expire deletes the recordings whose session started before now minus
// Config.MaxAge (none when MaxAge is zero), except those this Recorder is
// still recording, and returns how many it deleted. The playlist goes
// first, so that no player is offered a recording half-deleted, and the
// session info last, so that an interrupted sweep is finished by the next.
func (r *Recorder) Expire(ctx context.Context, now time.Time) (int, error) {
	if r.cfg.MaxAge <= 0 {
		return 0, nil
	}
	objs, err := r.cfg.Backend.List(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("expire recordings: %w", err)
	}
	cutoff := now.Add(-r.cfg.MaxAge).UnixMilli()
	type key struct {
		pid string
		id  int64
	}
	doomed := map[key][]string{}
	for _, o := range objs {
		pid, id, ok := sessionOf(o.Name)
		if ok && id < cutoff {
			doomed[key{pid, id}] = append(doomed[key{pid, id}], o.Name)
		}
	}
	n := 0
	for k, names := range doomed {
		r.mu.Lock()
		_, active := r.sessions[k.pid+"/"+sessionName(k.id)]
		r.mu.Unlock()
		if active {
			continue
		}
		vod, info := vodName(k.pid, k.id), k.pid+"/"+sessionName(k.id)+"/"+sessionInfoName
		slices.SortFunc(names, func(a, b string) int {
			rank := func(s string) int {
				switch s {
				case vod:
					return 0
				case info:
					return 2
				}
				return 1
			}
			return rank(a) - rank(b)
		})
		for _, name := range names {
			if err := r.cfg.Backend.Delete(ctx, name); err != nil {
				return n, fmt.Errorf("expire recording %s: %w", vod, err)
			}
		}
		r.log.Info("recording expired", "playback_id", k.pid, "session", sessionName(k.id), "objects", len(names))
		n++
	}
	return n, nil
}

// sweepLoop runs Expire at start-up and then every MaxAge/24, clamped to a
// minute to an hour, until the Recorder is closed.
func (r *Recorder) sweepLoop() {
	every := min(max(r.cfg.MaxAge/24, time.Minute), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.Expire(r.ctx, time.Now()); err != nil && r.ctx.Err() == nil {
			r.log.Warn("retention sweep", "err", err)
		}
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return
		}
	}
}
