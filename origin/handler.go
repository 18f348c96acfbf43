package origin

import (
	"log/slog"
	"net/http"
	"path"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// Streams finds the live HLS of a playback id.
type Streams interface {
	// Lookup returns the store holding playbackID's HLS files, or ok=false
	// when no stream of that id is live or in its grace period after ending.
	Lookup(playbackID string) (store hlsmux.Store, ok bool)
}

// EdgeStreams is what a Streams also implements when its streams are
// low-latency ones (fMP4 parts and LL playlists): the Handler then holds
// blocking playlist requests and requests for parts not written yet on
// the stream's live edge, and reports the other renditions' positions in
// each low-latency playlist. The Handler finds it by type assertion.
type EdgeStreams interface {
	// Edge returns the live edge of playbackID's stream, or ok=false
	// when it has none (it is not live, or not a low-latency stream).
	Edge(playbackID string) (edge *hlsmux.Edge, ok bool)
}

// Options configures a Handler. The zero value is ready to use.
type Options struct {
	// Logger receives what a response cannot tell: store failures other
	// than a missing file. It never receives a request's raw path. Nil
	// discards.
	Logger *slog.Logger
	// VOD, when set, reads the recordings served under /vod/, from
	// whichever storage holds them. Nil serves no recordings.
	VOD VODSource
	// OfflineRetry is how often the watch page asks again whether a stream
	// that is not live has started. Zero means 3 s.
	OfflineRetry time.Duration

	// blockWait replaces the wait of a blocking request, three target
	// durations, when set: tests of its 503 end in milliseconds.
	blockWait time.Duration
}

// defaultOfflineRetry keeps a page left open on an offline channel at one
// HEAD request every few seconds, while a viewer who arrived early sees the
// stream within a few seconds of its start.
const defaultOfflineRetry = 3 * time.Second

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OfflineRetry <= 0 {
		o.OfflineRetry = defaultOfflineRetry
	}
	return o
}

// Handler serves, for GET and HEAD (and OPTIONS preflights):
//
//	/hls/{pid}/live.m3u8                      master playlist
//	/hls/{pid}/{rendition}/index.m3u8         media playlist
//	/hls/{pid}/{rendition}/{seq}.ts           TS segment
//	/hls/{pid}/{rendition}/init-{seq}.mp4     fMP4 init section (EXT-X-MAP)
//	/hls/{pid}/{rendition}/{seq}.m4s          fMP4 segment
//	/hls/{pid}/{rendition}/{seq}.{part}.m4s   fMP4 partial segment
//	/watch/{pid}                              watch page
//	/static/{asset}                           the watch page's scripts and style
//
// A media playlist takes the delivery directives of RFC 8216bis §6.2.5,
// parsed strictly (a malformed one, or _HLS_part without _HLS_msn, is 400;
// other parameters are ignored):
//
//	index.m3u8?_HLS_msn=M[&_HLS_part=P]   held until the playlist lists
//	                                      part P of segment M (without P,
//	                                      all of M); 400 at once if that
//	                                      is too far ahead, 503 after
//	                                      three target durations, the
//	                                      playlist as it is if the stream
//	                                      ends meanwhile
//	index.m3u8?_HLS_skip=YES|v2           the delta update (EXT-X-SKIP),
//	                                      or the full playlist if there
//	                                      is none
//
// Directives block only on a stream with an edge (EdgeStreams) whose
// playlist says CAN-BLOCK-RELOAD=YES; otherwise the playlist is served as
// it is. A part or fMP4 segment not written yet is held the same way
// until the edge lists it (a preload hint names the next part before it
// exists), 404 if it will not come. Each low-latency playlist (one with
// EXT-X-PART-INF) is served with an EXT-X-RENDITION-REPORT for every other
// rendition of the stream, read from the edge when it is served.
//
// Cache-Control: the master max-age=60; media playlists no-cache, but a
// blocking answer "public, max-age=" one target duration (its URL names
// the part it must list, which any later playlist lists too); segments,
// parts and init sections max-age=600 (their names are never reused).
//
// and, with Options.VOD, the recordings it reads:
//
//	/vod/{pid}/vod-{session}.m3u8                 a recording's playlist
//	/vod/{pid}/{session}/{rendition}/index.m3u8   a rendition's ("all" layout)
//	/vod/{pid}/{session}/{rendition}/{seq}.ts     segment
//
// Every response allows any origin (CORS), since players on other sites
// embed the streams. Unknown streams, files and malformed names are 404;
// other methods are 405. It is safe for concurrent use.
type Handler struct {
	live  liveSource
	log   *slog.Logger
	retry time.Duration
	vod   VODSource
	mux   *http.ServeMux
}

var _ http.Handler = (*Handler)(nil)

// NewLocal returns a Handler serving the HLS files that s finds in memory
// (or wherever each stream's store keeps them) on this machine.
func NewLocal(s Streams, opts Options) *Handler {
	return newHandler(localSource{streams: s, blockWait: opts.blockWait}.read, opts)
}

// newHandler returns a Handler that reads live HLS files from live: this
// machine's stores (NewLocal) or the servers of a cluster (NewCluster).
// Everything else, URLs, names, headers, the watch page and /vod/, is the
// same whichever reads them.
func newHandler(live liveSource, opts Options) *Handler {
	opts = opts.withDefaults()
	h := &Handler{live: live, log: opts.Logger, retry: opts.OfflineRetry, vod: opts.VOD, mux: http.NewServeMux()}
	h.handle("/hls/{pid}/"+masterName, h.serveMaster)
	h.handle("/hls/{pid}/{rendition}/{file}", h.serveRendition)
	h.handle("/watch/{pid}", h.serveWatch)
	h.handle("/static/{asset}", serveAsset)
	if h.vod != nil {
		h.handle("/vod/{pid}/{file}", h.serveVODPlaylist)
		h.handle("/vod/{pid}/{session}/{rendition}/{file}", h.serveVODRendition)
	}
	return h
}

// handle routes GET (which takes HEAD along) and OPTIONS of pattern; the
// mux answers other methods with 405 and an Allow header.
func (h *Handler) handle(pattern string, serve http.HandlerFunc) {
	h.mux.HandleFunc("GET "+pattern, serve)
	h.mux.HandleFunc("OPTIONS "+pattern, preflight)
}

// CORS headers. Range and the validators are what players send; the
// exposed headers let a player's script read a range answer and its size.
const (
	allowMethods  = "GET, HEAD, OPTIONS"
	allowHeaders  = "Range, If-Range, If-None-Match, If-Modified-Since"
	exposeHeaders = "Content-Length, Content-Range, Accept-Ranges, ETag"
	// preflightMaxAge lets a browser reuse a preflight for a day: the
	// answer never changes.
	preflightMaxAge = "86400"
)

// ServeHTTP sets the headers every response carries, then routes r.
// Responses that set no Cache-Control of their own (errors, 405) are
// "no-cache", so that a 404 for a stream that is about to start is never
// served from a cache.
//
// A path that is not clean ("//", "/./", "/../", a trailing slash) is 404:
// no player asks for one, and the mux would redirect it to its clean form,
// repeating the path (and whatever was pasted into it) in the answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", exposeHeaders)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-cache")
	if p := r.URL.Path; p == "" || path.Clean(p) != p {
		notFound(w)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// preflight answers a CORS preflight of any route.
func preflight(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", allowMethods)
	hd.Set("Access-Control-Allow-Headers", allowHeaders)
	hd.Set("Access-Control-Max-Age", preflightMaxAge)
	hd.Set("Allow", allowMethods)
	w.WriteHeader(http.StatusNoContent)
}

// notFound answers 404 with a fixed text: never the requested name, which
// may be a stream key pasted in the wrong place.
func notFound(w http.ResponseWriter) {
	http.Error(w, "404 not found", http.StatusNotFound)
}

// internalError answers 500 with a fixed text; the caller logs the cause.
func internalError(w http.ResponseWriter) {
	http.Error(w, "500 internal server error", http.StatusInternalServerError)
}
