package origin

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// masterName is the master playlist's name in a stream's store (pipeline's
// default) and in its URL.
const masterName = "live.m3u8"

// fileKind is how one kind of HLS file is served.
type fileKind struct {
	contentType  string
	cacheControl string
}

var (
	// The master lists the ladder, which does not change while a stream is
	// live, so caches may keep it a minute.
	masterKind = fileKind{"application/vnd.apple.mpegurl", "max-age=60"}
	// A media playlist changes with every segment: a cache must revalidate
	// it each time, or players would stall on a stale window.
	playlistKind = fileKind{"application/vnd.apple.mpegurl", "no-cache"}
	// A segment never changes once listed, and its number (the publish time
	// in ms plus its index) is never reused, so caches keep it for longer
	// than it stays in any live window.
	segmentKind = fileKind{"video/mp2t", "max-age=600"}
)

func (h *Handler) serveMaster(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, r.PathValue("pid"), masterName, masterKind)
}

func (h *Handler) serveRendition(w http.ResponseWriter, r *http.Request) {
	rendition, file := r.PathValue("rendition"), r.PathValue("file")
	if !validRendition(rendition) {
		notFound(w)
		return
	}
	var kind fileKind
	switch {
	case file == "index.m3u8":
		kind = playlistKind
	case validSegment(file):
		kind = segmentKind
	default:
		notFound(w)
		return
	}
	h.serveFile(w, r, r.PathValue("pid"), rendition+"/"+file, kind)
}

// serveFile answers with the file name of pid's stream. name has been
// validated; pid is checked here, before the stream table sees it.
//
// http.ServeContent answers HEAD, Range (players and CDNs fetch segments in
// parts) and If-None-Match against the ETag.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, pid, name string, kind fileKind) {
	if !validPlaybackID(pid) {
		notFound(w)
		return
	}
	store, ok := h.streams.Lookup(pid)
	if !ok {
		notFound(w)
		return
	}
	data, err := store.Get(name)
	switch {
	case errors.Is(err, hlsmux.ErrNotFound):
		notFound(w)
		return
	case err != nil:
		h.log.Warn("read HLS file from the stream's store", "playback_id", pid, "name", name, "err", err)
		internalError(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", kind.contentType)
	hd.Set("Cache-Control", kind.cacheControl)
	hd.Set("ETag", etag(data))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// etag is a strong validator of data: its CRC-32C and length. It is the
// same on every origin for the same bytes (CDNs in front of several agree),
// and CRC-32C runs in hardware, so a megabyte segment costs well under a
// millisecond. Two versions of one playlist URL, the only pairs that are
// ever compared, differ in both with near certainty.
func etag(data []byte) string {
	return fmt.Sprintf(`"%08x-%x"`, crc32.Checksum(data, castagnoli), len(data))
}
