// Package browser starts headless Chromium for tests that play a page as a
// viewer would (hls.js in the watch page), through chromedp.
package browser

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/livestream/livestream/internal/testenv"
)

// Start starts headless Chromium with its profile in a temporary
// directory and returns a context for its first tab. Cleanup closes it and
// fails the test if any of its processes is left.
func Start(ctx context.Context, t *testing.T, path string) context.Context {
	t.Helper()
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Chromium keeps its crash reports under XDG_CONFIG_HOME whatever
		// the profile, and its crash handlers, which detach from it, name
		// that directory: so both stay in the test's directory, where the
		// cleanup finds them.
		chromedp.Env("XDG_CONFIG_HOME="+profile, "XDG_CACHE_HOME="+profile),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // tests run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		logEvent(t, ev)
	}))
	t.Cleanup(func() {
		cancelBrowser() // closes the browser and waits for it
		cancelAlloc()
		testenv.WaitFor(t, 5*time.Second, func() bool { return len(processesUsing(profile)) == 0 },
			"Chromium's processes to exit")
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return browser
}

// logEvent logs the browser's console and fails the test on a
// script exception or a security error (a CSP violation).
func logEvent(t *testing.T, ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		desc := ""
		if d.Exception != nil {
			desc = d.Exception.Description
		}
		t.Errorf("page script threw at %s:%d: %s %s", d.URL, d.LineNumber+1, d.Text, desc)
	case *cdplog.EventEntryAdded:
		t.Logf("browser %s %s: %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		if ev.Entry.Source == cdplog.EntrySourceSecurity {
			t.Errorf("browser security error (CSP?): %s", ev.Entry.Text)
		}
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, string(a.Value))
		}
		t.Logf("console.%s %s", ev.Type, strings.Join(args, " "))
	}
}

// processesUsing lists the PIDs whose command line mentions dir.
func processesUsing(dir string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
