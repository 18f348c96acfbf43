package origin

import (
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/browser"
)

// statsView is what the test reads of the stats overlay.
type statsView struct {
	Hidden  bool   `json:"hidden"`
	Pressed string `json:"pressed"`
	Latency string `json:"latency"`
	PDT     string `json:"pdt"`
	Target  string `json:"target"`
	Buffer  string `json:"buffer"`
	Level   string `json:"level"`
	Dropped string `json:"dropped"`
	Stalls  string `json:"stalls"`
	LL      string `json:"ll"`
}

const readStatsView = `(() => {
	const text = k => document.getElementById('stats-' + k).textContent;
	return {
		hidden: document.getElementById('stats').hidden,
		pressed: document.getElementById('stats-toggle').getAttribute('aria-pressed'),
		latency: text('latency'), pdt: text('pdt'), target: text('target'), buffer: text('buffer'),
		level: text('level'), dropped: text('dropped'), stalls: text('stalls'), ll: text('ll'),
	};
})()`

func (w *watchTest) statsView() statsView {
	w.t.Helper()
	v, err := chromedp.Run(w.page, chromedp.Evaluate[statsView](readStatsView))
	if err != nil {
		w.t.Fatalf("read the stats overlay: %v", err)
	}
	return v
}

// TestWatchPageStatsOverlay opens the stats overlay of a page playing a
// plain (not low-latency) TS stream: hidden at first, shown by its button,
// hidden and shown again by the S key but not while the quality menu has
// the focus; it reads "LL: off", the level playing and the latencies, and
// agrees with window.__livestream.stats(), which a switch of level moves.
func TestWatchPageStatsOverlay(t *testing.T) {
	w := startWatchTest(t, "s5t8a2ts9ov3lx7y")
	store := hlsmux.NewMemoryStore()
	w.f.publish(t, store, 4, false)
	w.streams.set(w.pid, store)
	w.open()
	w.waitState("playing", 15*time.Second)
	w.f.publish(t, store, 5, false) // keep it growing: something to switch to
	w.waitPlayback(0.3, 10*time.Second)

	if v := w.statsView(); !v.Hidden || v.Pressed != "false" {
		t.Fatalf("before any click the overlay is hidden=%v, its button pressed=%s; want hidden", v.Hidden, v.Pressed)
	}
	if err := chromedp.Do(w.page, chromedp.Click("#stats-toggle")); err != nil {
		t.Fatalf("click Stats: %v", err)
	}
	w.poll(`document.getElementById('stats-ll').textContent === 'off' &&
		/ s$/.test(document.getElementById('stats-latency').textContent)`,
		"the overlay to show its first numbers", 5*time.Second)
	v := w.statsView()
	t.Logf("overlay: %+v", v)
	if v.Hidden || v.Pressed != "true" {
		t.Errorf("after a click the overlay is hidden=%v, its button pressed=%s; want shown", v.Hidden, v.Pressed)
	}
	seconds := regexp.MustCompile(`^\d+\.\d\d s$`)
	for what, got := range map[string]string{"latency": v.Latency, "buffer": v.Buffer} {
		if !seconds.MatchString(got) {
			t.Errorf("overlay %s reads %q, want seconds", what, got)
		}
	}
	if !regexp.MustCompile(`^\d+\.\d\d s( \(at \d\.\d\d×\))?$`).MatchString(v.Target) {
		t.Errorf("overlay target reads %q", v.Target)
	}
	if v.PDT != "no PDT" { // the fixture's playlists have no EXT-X-PROGRAM-DATE-TIME
		t.Errorf("overlay latency since ingest reads %q, want no PDT", v.PDT)
	}
	if !regexp.MustCompile(`^(180|90)p · \d+ kb/s \(Auto\)$`).MatchString(v.Level) {
		t.Errorf("overlay level reads %q", v.Level)
	}
	if !regexp.MustCompile(`^\d+ of \d+ frames$`).MatchString(v.Dropped) || !regexp.MustCompile(`^\d+$`).MatchString(v.Stalls) {
		t.Errorf("overlay dropped frames %q, stalls %q", v.Dropped, v.Stalls)
	}

	// The page's API says the same, in numbers.
	s, err := browser.ReadPlayer(w.page)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sample: %+v", s)
	if s.Engine != "hls.js" || s.State != "playing" || s.LL || s.CanBlockReload || s.PartTarget != 0 {
		t.Errorf("sample of a plain TS stream: engine %q state %q LL %v blocking %v part target %g",
			s.Engine, s.State, s.LL, s.CanBlockReload, s.PartTarget)
	}
	if s.Levels != 2 || s.Level < 0 || s.Height != []int{90, 180}[s.Level] || !s.AutoLevel {
		t.Errorf("sample: level %d of %d, %dp, auto %v", s.Level, s.Levels, s.Height, s.AutoLevel)
	}
	if s.Latency == nil || *s.Latency <= 0 || s.TargetLatency == nil || *s.TargetLatency < 1 || s.PDTLatency != nil {
		t.Errorf("sample latencies: hls.js %v, target %v, since ingest %v; want the first two only",
			s.Latency, s.TargetLatency, s.PDTLatency)
	}
	if s.Starts != 1 || s.Switches < 1 || s.FatalErrors != 0 {
		t.Errorf("sample counts: %d starts, %d switches, %d fatal errors", s.Starts, s.Switches, s.FatalErrors)
	}

	// A switch of level shows in both.
	other := 1 - s.Level
	if err := browser.SetLevel(w.page, other, browser.SwitchNow); err != nil {
		t.Fatal(err)
	}
	after, err := browser.WaitPlayer(w.page, 10*time.Second, func(p browser.PlayerSample) bool { return p.Level == other })
	if err != nil {
		t.Fatal(err)
	}
	if after.AutoLevel || after.Switches <= s.Switches || after.SwitchedTo[len(after.SwitchedTo)-1] != other {
		t.Errorf("after switching to %d: auto %v, switches %d → %d, to %v", other, after.AutoLevel, s.Switches, after.Switches, after.SwitchedTo)
	}
	w.poll(`/^(180|90)p · \d+ kb\/s$/.test(document.getElementById('stats-level').textContent)`,
		"the overlay to show the level chosen, not Auto", 5*time.Second)
	if err := browser.SetLevel(w.page, 2, browser.SwitchNext); err == nil {
		t.Error("SetLevel(2) of two levels succeeded")
	}

	// S hides and shows it, wherever the focus is but in the quality menu,
	// where letters choose an option.
	key := func(what string) {
		t.Helper()
		if err := chromedp.Do(w.page, chromedp.KeyEvent("s")); err != nil {
			t.Fatalf("press S (%s): %v", what, err)
		}
	}
	key("to hide")
	if v := w.statsView(); !v.Hidden || v.Pressed != "false" {
		t.Errorf("after S the overlay is hidden=%v, pressed=%s; want hidden", v.Hidden, v.Pressed)
	}
	key("to show")
	if v := w.statsView(); v.Hidden || v.Pressed != "true" {
		t.Errorf("after S again the overlay is hidden=%v, pressed=%s; want shown", v.Hidden, v.Pressed)
	}
	w.eval(`document.getElementById('quality').disabled = false, document.getElementById('quality').focus()`, "focus the quality menu")
	key("in the quality menu")
	if v := w.statsView(); v.Hidden {
		t.Error("S in the quality menu hid the overlay")
	}
	w.checkPublicRequests()
}
