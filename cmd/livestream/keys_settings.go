package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/livestream/livestream/registry"
)

// runSettings is `keys settings ID [--reconnect-window D|default]
// [--keep-on-unpublish=BOOL]`: without a setting it shows the channel's,
// with some it changes those.
func runSettings(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys settings", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f keysFlags
	f.register(fs, true)
	var window string
	var keep bool
	fs.StringVar(&window, "reconnect-window", "", "how long a `duration` a stream whose publisher left stays live on a slate for the channel's\n"+
		"next publish to continue it (10s, 2m; 0 ends it with its publisher; at most 1h), or default for the server's")
	fs.BoolVar(&keep, "keep-on-unpublish", false, `true: a clean "stop streaming" opens the reconnect window too, so that stopping and`+"\n"+
		"starting again keeps one stream; false: it ends the stream at once")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: livestream keys settings ID [--reconnect-window DURATION|default] [--keep-on-unpublish=true|false] [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "livestream: keys settings: %v\n", err)
		return 1
	}
	// Only the common flags come from the environment: a server's
	// LIVESTREAM_RECONNECT_WINDOW exported in the same shell must not
	// become a channel's.
	if err := f.fromEnv(fs); err != nil {
		return fail(err)
	}
	var u registry.SettingsUpdate
	change := false
	if f.cmdLine["reconnect-window"] {
		change = true
		if window == "default" {
			u.DefaultReconnectWindow = true
		} else {
			d, err := time.ParseDuration(window)
			if err != nil {
				return fail(fmt.Errorf("--reconnect-window %q: want a duration such as 10s or 2m, 0, or default", window))
			}
			w := registry.Duration(d)
			u.ReconnectWindow = &w
		}
	}
	if f.cmdLine["keep-on-unpublish"] {
		change = true
		u.KeepOnUnpublish = &keep
	}
	ctx, store, done, err := f.open()
	if err != nil {
		return fail(err)
	}
	defer done()

	var c registry.Channel
	if change {
		c, err = store.UpdateSettings(ctx, pos[0], u)
	} else {
		c, err = store.Get(ctx, pos[0])
	}
	if err != nil {
		return fail(err)
	}
	if f.json {
		writeJSON(stdout, c)
		return 0
	}
	what := "settings"
	if change {
		what = "settings changed; they apply from the channel's next stream, not to one live now"
	}
	fmt.Fprintf(stdout, "Channel %s (%q) %s:\n", c.ID, c.Name, what)
	fmt.Fprintf(stdout, "  reconnect window:   %s\n", describeWindow(c.Settings, true))
	fmt.Fprintf(stdout, "  clean unpublish:    %s\n", describeUnpublish(c.Settings, true))
	return 0
}

// describeWindow is the channel's reconnect window as `keys` shows it; in
// long form, with what it means.
func describeWindow(s registry.ChannelSettings, long bool) string {
	switch {
	case s.ReconnectWindow == nil && long:
		return "the server's (serve.reconnect_window, --reconnect-window: default 30s)"
	case s.ReconnectWindow == nil:
		return "server's"
	case *s.ReconnectWindow == 0 && long:
		return "0s: a publisher that drops ends the stream"
	}
	return s.ReconnectWindow.String()
}

// describeUnpublish says what a clean unpublish does to the channel's
// stream; in long form, in a sentence.
func describeUnpublish(s registry.ChannelSettings, long bool) string {
	switch {
	case s.KeepOnUnpublish && long:
		return "keeps the stream live for the reconnect window (keep_on_unpublish)"
	case s.KeepOnUnpublish:
		return "keeps"
	case long:
		return "ends the stream at once"
	}
	return "ends"
}
