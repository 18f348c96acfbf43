package origin

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// VODSource reads one file of the recordings, whole, by its slash-separated
// name under the recordings' root, in package record's layout:
// "<playback id>/vod-<session id>.m3u8" or
// "<playback id>/<session id>/<rendition>/<file>", where file is a
// segment ("<seq>.ts", or "<seq>.m4s" for fMP4), an fMP4 init section
// ("init-<seq>.mp4") or the rendition's index.m3u8 (see vod_names.go). It
// returns ErrNotFound, or an error wrapping it, when name holds nothing.
// The Handler asks only for names it has validated, and cancels ctx when
// the viewer goes away. It must be safe for concurrent use.
//
// The server adapts its recorder's storage to it (a directory or an S3
// bucket, through record.Backend.Get), since origin does not import record.
type VODSource func(ctx context.Context, name string) ([]byte, error)

// maxSessionDigits bounds a recording session id: its start time in Unix
// milliseconds (13 digits), made unique by adding one; an int64 at most.
const maxSessionDigits = 19

var (
	// A finished recording's segments never change, and a session id is
	// never reused: caches keep them for good (fMP4's: vod_names.go).
	vodSegmentKind = fileKind{"video/mp2t", "public, max-age=31536000, immutable"}
	// A VOD playlist (EXT-X-ENDLIST) is final but for retention, which
	// deletes it: caches keep it a while, not forever.
	vodFinalKind = fileKind{"application/vnd.apple.mpegurl", "max-age=300"}
	// An EVENT playlist grows with every segment while the stream is
	// recorded, and a master (the "all" layout) points at those.
	vodGrowingKind = fileKind{"application/vnd.apple.mpegurl", "no-cache"}
)

// validSession reports whether sid is a session id: 1 to maxSessionDigits
// decimal digits.
func validSession(sid string) bool {
	return len(sid) > 0 && len(sid) <= maxSessionDigits && all(sid, func(c byte) bool { return '0' <= c && c <= '9' })
}

// serveVODPlaylist answers /vod/{pid}/vod-{session}.m3u8: the recording's
// playlist (its media playlist, or its master in the "all" layout).
func (h *Handler) serveVODPlaylist(w http.ResponseWriter, r *http.Request) {
	pid, file := r.PathValue("pid"), r.PathValue("file")
	sid, ok := strings.CutPrefix(file, "vod-")
	if ok {
		sid, ok = strings.CutSuffix(sid, ".m3u8")
	}
	if !ok || !validPlaybackID(pid) || !validSession(sid) {
		notFound(w)
		return
	}
	h.serveVODFile(w, r, pid, file)
}

// serveVODRendition answers /vod/{pid}/{session}/{rendition}/{file}: a
// segment (MPEG-TS or fMP4), an fMP4 init section, or a rendition's media
// playlist (index.m3u8, "all" layout).
func (h *Handler) serveVODRendition(w http.ResponseWriter, r *http.Request) {
	pid, sid, rendition, file := r.PathValue("pid"), r.PathValue("session"), r.PathValue("rendition"), r.PathValue("file")
	_, media := vodMediaKind(file)
	if !validPlaybackID(pid) || !validSession(sid) || !validRendition(rendition) ||
		file != vodPlaylistFile && !media {
		notFound(w)
		return
	}
	h.serveVODFile(w, r, pid, sid, rendition, file)
}

// serveVODFile answers with the recording file whose name is parts
// joined by slashes. Each part has been validated: no separator, dot or
// escape reaches the source.
//
// The file is read whole (a segment is a few MB) and served from memory
// by http.ServeContent, which answers HEAD, Range (players and CDNs fetch
// segments in parts) and If-None-Match against the ETag, whichever
// storage holds the recording.
func (h *Handler) serveVODFile(w http.ResponseWriter, r *http.Request, parts ...string) {
	name := strings.Join(parts, "/")
	data, err := h.vod(r.Context(), name)
	switch {
	case errors.Is(err, ErrNotFound):
		notFound(w)
		return
	case err != nil:
		if r.Context().Err() == nil {
			h.log.Warn("read recording file", "playback_id", parts[0], "err", err)
		}
		unavailable(w)
		return
	}
	kind, media := vodMediaKind(parts[len(parts)-1])
	if !media {
		kind = vodGrowingKind
		if bytes.Contains(data, []byte("#EXT-X-ENDLIST")) {
			kind = vodFinalKind
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", kind.contentType)
	hd.Set("Cache-Control", kind.cacheControl)
	hd.Set("ETag", etag(data))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// unavailable answers 503 with a fixed text when the recordings' storage
// fails; ServeHTTP's "no-cache" keeps caches from holding the answer.
func unavailable(w http.ResponseWriter) {
	http.Error(w, "503 recordings unavailable", http.StatusServiceUnavailable)
}
