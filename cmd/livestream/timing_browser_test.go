package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/internal/browser"
	"github.com/livestream/livestream/internal/testenv"
)

// hlsjsPage plays a master playlist with hls.js, as the server serves
// it, and records in window.rec everything the test checks: every hls.js
// ERROR event (fatal or not), every error of the <video> element, every
// LEVEL_SWITCHED, and the seconds of media played (the sum of forward
// steps of currentTime under 1.5 s, so a seek or a jump over a gap does
// not count). Every 4 s once playing it switches to the next level at
// once (hls.currentLevel, which flushes the buffer), so that both
// renditions and the boundaries between them are played. The page opens before the
// stream is live and waits for it.
const hlsjsPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>live timing</title><link rel="icon" href="data:,"></head>
<body>
<video id="video" muted autoplay playsinline></video>
<script src=%s></script>
<script>
const MASTER = %s;
const rec = window.rec = {errors: [], videoErrors: [], switched: [], requested: 0, played: 0, ended: false, note: '', stalls: 0, stalled: 0};
const video = document.getElementById('video');
// A stall: from a 'waiting' once playing to the next 'playing'.
let waitingSince = null;
video.addEventListener('waiting', () => { if (rec.played > 0 && waitingSince === null) waitingSince = performance.now(); });
video.addEventListener('playing', () => {
  if (waitingSince !== null) { rec.stalls++; rec.stalled += (performance.now() - waitingSince) / 1000; waitingSince = null; }
});
let last = null;
video.addEventListener('timeupdate', () => {
  const now = video.currentTime;
  if (last !== null && !video.seeking && now > last && now - last < 1.5) rec.played += now - last;
  last = now;
});
video.addEventListener('error', () => {
  const e = video.error;
  rec.videoErrors.push({code: e ? e.code : 0, message: e ? e.message : '', at: video.currentTime});
});
video.addEventListener('ended', () => { rec.ended = true; });
function play() {
  if (!Hls.isSupported()) { rec.note = 'hls.js: no MediaSource'; return; }
  const hls = window.hls = new Hls();
  hls.on(Hls.Events.ERROR, (_, d) => {
    const reason = d.reason || (d.error && d.error.message) || '';
    // bufferSeekOverHole seeks to the hole's end plus skipBufferHolePadding.
    const m = d.details === Hls.ErrorDetails.BUFFER_SEEK_OVER_HOLE && /seeking from ([0-9.]+) to ([0-9.]+)/.exec(reason);
    const hole = m ? Number(m[2]) - hls.config.skipBufferHolePadding - Number(m[1]) : null;
    rec.errors.push({type: d.type, details: d.details, fatal: d.fatal, reason: reason, at: video.currentTime, hole: hole});
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => rec.switched.push(d.level));
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(e => { rec.note = 'play(): ' + e; }));
  hls.loadSource(MASTER);
  hls.attachMedia(video);
  setInterval(() => {
    if (hls.levels.length > 1 && hls.currentLevel >= 0 && rec.played > 0) {
      hls.currentLevel = (hls.currentLevel + 1) %% hls.levels.length;
      rec.requested++;
    }
  }, 4000);
}
// Start once the first media playlist lists 4 segments, so that hls.js
// starts its usual 3 segments behind the live edge rather than at it.
// (Chromium logs each 404 before that: once a second is enough.)
async function listed() {
  const master = await fetch(MASTER, {cache: 'no-store'});
  if (!master.ok) return 0;
  const uri = (await master.text()).split('\n').find(l => l.trim() && !l.startsWith('#'));
  const media = await fetch(new URL(uri.trim(), MASTER), {cache: 'no-store'});
  return media.ok ? (await media.text()).split('#EXTINF').length - 1 : 0;
}
(function waitLive() {
  listed().then(n => n >= 4 ? play() : setTimeout(waitLive, 1000), () => setTimeout(waitLive, 1000));
})();
</script>
</body></html>
`

// hlsjsRecord is window.rec of hlsjsPage.
type hlsjsRecord struct {
	Errors []struct {
		Type    string  `json:"type"`
		Details string  `json:"details"`
		Fatal   bool    `json:"fatal"`
		Reason  string  `json:"reason"`
		At      float64 `json:"at"`
		// Hole is the gap a bufferSeekOverHole skipped, in seconds.
		Hole *float64 `json:"hole"`
	} `json:"errors"`
	VideoErrors []struct {
		Code    int     `json:"code"`
		Message string  `json:"message"`
		At      float64 `json:"at"`
	} `json:"videoErrors"`
	Switched  []int   `json:"switched"`
	Requested int     `json:"requested"`
	Played    float64 `json:"played"`
	Ended     bool    `json:"ended"`
	Note      string  `json:"note"`
	// Stalls and Stalled: the times playback waited for data once it had
	// started, and for how long in all (seconds).
	Stalls  int     `json:"stalls"`
	Stalled float64 `json:"stalled"`
}

// minPlayed is how much of a stream of seconds the player must play: the
// page starts it when 4 segments are listed, 9 to 10 s after the publish
// started, about three segments behind the live edge.
func minPlayed(seconds int) float64 { return float64(seconds - 15) }

var hlsjsAssetRe = regexp.MustCompile(`static/(hls\.min\.[0-9a-f]+\.js)`)

// hlsjsPlay is hlsjsPage open in headless Chromium.
type hlsjsPlay struct {
	page  context.Context
	until time.Time // when the stream has surely ended and been played
	c     timingCase
}

// startHLSJSPage opens hlsjsPage on the playback id's master playlist,
// with hls.js loaded from the server, from a page on another origin (as
// an embedding site would: the server's CORS headers allow it).
func startHLSJSPage(t *testing.T, s *server, pid string, c timingCase) *hlsjsPlay {
	t.Helper()
	chromium := testenv.NeedTool(t, "chromium")
	// The watch page names hls.js by its content hash.
	code, watch := s.tryGet("/watch/" + pid)
	m := hlsjsAssetRe.FindSubmatch(watch)
	if code != 200 || m == nil {
		t.Fatalf("GET /watch/%s: status %d, no hls.js in:\n%s", pid, code, watch)
	}
	base := "http://" + s.cfg.Serve.HTTPAddr
	page := fmt.Sprintf(hlsjsPage, browser.JSString(base+"/static/"+string(m[1])), browser.JSString(base+"/hls/"+pid+"/live.m3u8"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	until := time.Now().Add(time.Duration(c.seconds)*time.Second + 20*time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(15*time.Second))
	t.Cleanup(cancel)
	tab := browser.Start(ctx, t, chromium)
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatalf("open the player page: %v", err)
	}
	return &hlsjsPlay{page: tab, until: until, c: c}
}

// check waits until the player has played minPlayed seconds, or failed,
// or the stream ended, then checks what the page recorded.
func (p *hlsjsPlay) check(t *testing.T) {
	t.Helper()
	want := minPlayed(p.c.seconds)
	done := fmt.Sprintf(`window.rec !== undefined && (rec.played >= %v || rec.ended || rec.videoErrors.length > 0 || rec.errors.some(e => e.fatal))`, want)
	_, pollErr := chromedp.Run(p.page, chromedp.Poll[bool](done,
		chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(time.Until(p.until))))
	rec, err := chromedp.Run(p.page, chromedp.Evaluate[hlsjsRecord](`window.rec`))
	if err != nil {
		t.Fatalf("read the page's record: %v (waiting: %v)", err, pollErr)
	}
	var errs []string
	for _, e := range rec.Errors {
		errs = append(errs, fmt.Sprintf("%s/%s fatal=%v at %.2f s: %s", e.Type, e.Details, e.Fatal, e.At, e.Reason))
	}
	t.Logf("hls.js played %.1f s, levels %v after %d switches asked, ended=%v; errors: %d %s",
		rec.Played, rec.Switched, rec.Requested, rec.Ended, len(errs), strings.Join(errs, "; "))
	if rec.Note != "" {
		t.Errorf("player: %s", rec.Note)
	}
	if rec.Played < want {
		t.Errorf("hls.js played %.1f s of the %d s stream, want at least %.0f s (waiting: %v)", rec.Played, p.c.seconds, want, pollErr)
	}
	// LEVEL_SWITCHED fires for the first level too; count the changes.
	changes := 0
	for i := 1; i < len(rec.Switched); i++ {
		if rec.Switched[i] != rec.Switched[i-1] {
			changes++
		}
	}
	if changes < 2 {
		t.Errorf("hls.js switched level %d times (LEVEL_SWITCHED %v, %d switches asked), want at least 2", changes, rec.Switched, rec.Requested)
	}
	frame := 1 / float64(p.c.fps)
	for _, e := range rec.Errors {
		switch {
		case e.Fatal:
			t.Errorf("hls.js fatal error: %s/%s at %.2f s: %s", e.Type, e.Details, e.At, e.Reason)
		case e.Details == "bufferSeekOverHole" && e.Hole != nil && *e.Hole >= 0 && *e.Hole < frame:
			// Seen at the start of playback: hls.js's position fell a
			// microsecond before the buffered media (times in whole ms in
			// the playlist, 90 kHz in the media) and it seeks over the
			// "hole". A frame missing or out of place leaves at least a
			// frame's gap.
			t.Logf("hls.js skipped a %.6f s hole at %.2f s (under a frame): %s", *e.Hole, e.At, e.Reason)
		case e.Type == "mediaError":
			t.Errorf("hls.js media error: %s/%s at %.2f s: %s", e.Type, e.Details, e.At, e.Reason)
		}
	}
	for _, e := range rec.VideoErrors {
		t.Errorf("<video> MediaError %d at %.2f s: %s", e.Code, e.At, e.Message)
	}
}
