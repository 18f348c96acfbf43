package origin

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxSessionDigits bounds a recording session id: its start time in Unix
// milliseconds (13 digits), made unique by adding one; an int64 at most.
const maxSessionDigits = 19

// maxVODPlaylistSize bounds the playlist read into memory to choose its
// cache header: a day of 2-second segments lists in about 3 MB.
const maxVODPlaylistSize = 16 << 20

var (
	// A finished recording's segments never change, and a session id is
	// never reused: caches keep them for good.
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
// segment, or a rendition's media playlist (index.m3u8, "all" layout).
func (h *Handler) serveVODRendition(w http.ResponseWriter, r *http.Request) {
	pid, sid, rendition, file := r.PathValue("pid"), r.PathValue("session"), r.PathValue("rendition"), r.PathValue("file")
	if !validPlaybackID(pid) || !validSession(sid) || !validRendition(rendition) ||
		file != "index.m3u8" && !validSegment(file) {
		notFound(w)
		return
	}
	h.serveVODFile(w, r, pid, sid, rendition, file)
}

// serveVODFile answers with the recording file at parts under the VOD
// directory. Each part has been validated: no separator, dot or escape.
func (h *Handler) serveVODFile(w http.ResponseWriter, r *http.Request, parts ...string) {
	name := filepath.Join(append([]string{h.vodDir}, parts...)...)
	f, err := os.Open(name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			h.log.Warn("open recording file", "playback_id", parts[0], "err", err)
		}
		notFound(w)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		notFound(w)
		return
	}
	hd := w.Header()
	if strings.HasSuffix(name, ".ts") {
		hd.Set("Content-Type", vodSegmentKind.contentType)
		hd.Set("Cache-Control", vodSegmentKind.cacheControl)
		http.ServeContent(w, r, "", st.ModTime(), f)
		return
	}
	if st.Size() > maxVODPlaylistSize {
		h.log.Warn("recording playlist too large to serve", "playback_id", parts[0], "size", st.Size())
		internalError(w)
		return
	}
	data, err := os.ReadFile(name)
	if err != nil {
		notFound(w)
		return
	}
	kind := vodGrowingKind
	if bytes.Contains(data, []byte("#EXT-X-ENDLIST")) {
		kind = vodFinalKind
	}
	hd.Set("Content-Type", kind.contentType)
	hd.Set("Cache-Control", kind.cacheControl)
	hd.Set("ETag", etag(data))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
