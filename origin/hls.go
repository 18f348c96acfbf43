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

// hlsFile is one live HLS file as served: its bytes, which nobody
// changes, and their ETag.
type hlsFile struct {
	data []byte
	etag string
}

// liveSource reads the file name of the live stream pid, both validated.
// It returns ErrNotFound (or an error wrapping it) when the stream is not
// live or has no such file, errUnavailable (wrapped) when whatever holds
// the stream cannot answer now, having logged why, and ctx.Err() when the
// viewer went away. Any other error is a failure that the Handler logs.
type liveSource func(ctx context.Context, pid, name string) (hlsFile, error)

// localSource reads the stores of the streams live on this machine.
func localSource(s Streams) liveSource {
	return func(_ context.Context, pid, name string) (hlsFile, error) {
		store, ok := s.Lookup(pid)
		if !ok {
			return hlsFile{}, ErrNotFound
		}
		data, err := store.Get(name)
		switch {
		case errors.Is(err, hlsmux.ErrNotFound):
			return hlsFile{}, ErrNotFound
		case err != nil:
			return hlsFile{}, fmt.Errorf("read from the stream's store: %w", err)
		}
		return hlsFile{data: data, etag: etag(data)}, nil
	}
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
	f, err := h.live(r.Context(), pid, name)
	switch {
	case errors.Is(err, ErrNotFound):
		notFound(w)
		return
	case errors.Is(err, errUnavailable):
		streamUnavailable(w)
		return
	case r.Context().Err() != nil:
		return // the viewer left; nobody reads an answer
	case err != nil:
		h.log.Warn("read HLS file", "playback_id", pid, "name", name, "err", err)
		internalError(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", kind.contentType)
	hd.Set("Cache-Control", kind.cacheControl)
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

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// etag is a strong validator of data: its CRC-32C and length. It is the
// same on every origin for the same bytes (CDNs in front of several agree),
// and CRC-32C runs in hardware, so a megabyte segment costs well under a
// millisecond. Two versions of one playlist URL, the only pairs that are
// ever compared, differ in both with near certainty.
func etag(data []byte) string {
	return fmt.Sprintf(`"%08x-%x"`, crc32.Checksum(data, castagnoli), len(data))
}
