package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"time"
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
	// fMP4 init sections, segments and their parts are named as TS
	// segments are, never reused, so cached as long. video/mp4 rather
	// than the registered video/iso.segment: every player, browser and
	// CDN knows it, and MSE takes the codecs from the master, not this
	// header.
	fmp4Kind = fileKind{"video/mp4", "max-age=600"}
)

func (h *Handler) serveMaster(w http.ResponseWriter, r *http.Request) {
	h.serveFile(w, r, liveRequest{pid: r.PathValue("pid")}, masterKind)
}

func (h *Handler) serveRendition(w http.ResponseWriter, r *http.Request) {
	req := liveRequest{pid: r.PathValue("pid"), rendition: r.PathValue("rendition"), file: r.PathValue("file")}
	if !validRendition(req.rendition) {
		notFound(w)
		return
	}
	var kind fileKind
	if req.file == playlistName {
		q, err := parseBlockingQuery(r.URL.RawQuery)
		if err != nil {
			badRequest(w)
			return
		}
		req.block, kind = q, playlistKind
	} else {
		m, ok := parseMediaName(req.file)
		if !ok {
			notFound(w)
			return
		}
		req.media, kind = m, m.kind
	}
	h.serveFile(w, r, req, kind)
}

// liveRequest is one live HLS file asked for, its names validated.
type liveRequest struct {
	pid string
	// rendition and file name the file in the rendition's folder; both
	// are "" for the master playlist.
	rendition, file string
	// block is a media playlist's delivery directives.
	block blockingQuery
	// media is a media file's parsed name.
	media mediaName
}

// name is the file's name in the stream's store.
func (r liveRequest) name() string {
	if r.rendition == "" {
		return masterName
	}
	return r.rendition + "/" + r.file
}

// hlsFile is one live HLS file as served: its bytes, which nobody
// changes, and their ETag.
type hlsFile struct {
	data []byte
	etag string
}

// liveSource reads the live file req asks for. It returns ErrNotFound (or
// an error wrapping it) when the stream is not live or has no such file,
// errUnavailable (wrapped) when whatever holds the stream cannot answer
// now, having logged why if that matters, errTooFar when a blocking
// request asks too far ahead of the playlist, and ctx.Err() when the
// viewer went away. Any other error is a failure that the Handler logs.
type liveSource func(ctx context.Context, req liveRequest) (hlsFile, error)

// serveFile answers with the file req asks for. Its names have been
// validated; the playback id is checked here, before the stream table
// sees it.
//
// http.ServeContent answers HEAD, Range (players and CDNs fetch segments in
// parts) and If-None-Match against the ETag.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, req liveRequest, kind fileKind) {
	if !validPlaybackID(req.pid) {
		notFound(w)
		return
	}
	f, err := h.live(r.Context(), req)
	switch {
	case errors.Is(err, ErrNotFound):
		notFound(w)
		return
	case errors.Is(err, errTooFar):
		badRequest(w)
		return
	case errors.Is(err, errUnavailable):
		streamUnavailable(w)
		return
	case r.Context().Err() != nil:
		return // the viewer left; nobody reads an answer
	case err != nil:
		h.log.Warn("read HLS file", "playback_id", req.pid, "name", req.name(), "err", err)
		internalError(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", kind.contentType)
	if req.block.blocking && canBlockReload(f.data) {
		hd.Set("Cache-Control", blockingCacheControl(f.data))
	} else {
		hd.Set("Cache-Control", kind.cacheControl)
	}
	hd.Set("ETag", f.etag)
	if r.Method == http.MethodGet && r.Header.Get("Range") == "" && r.Header.Get("If-None-Match") == "" {
		// The common case, a whole file: one Write of the cached bytes.
		// ServeContent would copy them through a 32 KiB buffer, a write(2)
		// each (measured: ~15 % of the CPU of serving a hot 1 MiB segment).
		hd.Set("Accept-Ranges", "bytes")
		hd.Set("Content-Length", strconv.Itoa(len(f.data)))
		w.WriteHeader(http.StatusOK)
		w.Write(f.data)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

// streamUnavailable answers 503 with a fixed text when the server holding
// a stream does not answer; ServeHTTP's "no-cache" keeps caches from
// holding the answer.
func streamUnavailable(w http.ResponseWriter) {
	http.Error(w, "503 stream unavailable", http.StatusServiceUnavailable)
}

// badRequest answers 400 with a fixed text: a malformed delivery
// directive, or a blocking request too far ahead of the playlist.
func badRequest(w http.ResponseWriter) {
	http.Error(w, "400 bad request", http.StatusBadRequest)
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
