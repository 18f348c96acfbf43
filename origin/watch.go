package origin

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"
)

//go:embed watch.html
var watchHTML string

var watchTemplate = template.Must(template.New("watch").Parse(watchHTML))

// watchCSP allows the page its own scripts, style and requests, and the
// blob: URLs hls.js makes: the MediaSource it plays and its transmuxing
// worker. Nothing else loads, so a playback id could not inject a script
// even if html/template missed it.
const watchCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"media-src 'self' blob:; worker-src blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'"

// watchPage is what watch.html shows. URLs are relative to /watch/{pid}, so
// the page works behind a reverse proxy that mounts the origin under a
// path prefix.
type watchPage struct {
	PlaybackID string
	// Master is the master playlist's URL.
	Master string
	// RetryMillis is about how often (the page adds jitter) the page
	// checks whether a stream that is offline, or has ended, is live
	// (again), while its tab is visible.
	RetryMillis int64
	// HLSJS, Script and Style are the versioned URLs of the assets.
	HLSJS, Script, Style string
}

// serveWatch answers the watch page of any well-formed playback id, live or
// not: the page shows "offline" and waits for the stream to start, and
// when the stream ends or goes away it waits for it to come back, playing
// it again without a reload (creators reconnect all the time). The page
// names nothing but the playback id's public URLs.
func (h *Handler) serveWatch(w http.ResponseWriter, r *http.Request) {
	pid := r.PathValue("pid")
	if !validPlaybackID(pid) {
		notFound(w)
		return
	}
	var b bytes.Buffer
	err := watchTemplate.Execute(&b, watchPage{
		PlaybackID:  pid,
		Master:      "../hls/" + pid + "/" + masterName,
		RetryMillis: h.retry.Milliseconds(),
		HLSJS:       "../static/" + assetName["hls.min.js"],
		Script:      "../static/" + assetName["watch.js"],
		Style:       "../static/" + assetName["watch.css"],
	})
	if err != nil {
		h.log.Error("render the watch page", "playback_id", pid, "err", err)
		internalError(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", watchCSP)
	// Revalidated each time: it names the assets by their current hashes.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes()))
}
