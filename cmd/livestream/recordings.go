package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/livestream/livestream/record"
)

const recordingsUsage = `Usage:
  livestream recordings list CHANNEL_ID [--json]
        list the channel's recordings: one per publish, with its state
        (recording, complete or incomplete), start, duration, size and the
        URL of its playlist

It reads the recordings directory (--record-dir, default DATA_DIR/recordings)
and the registry file DATA_DIR/channels.json (--data-dir, default ./data)
that a running "livestream serve" shares, or a cluster's Redis (--redis-url,
with --record-dir), or asks a running server's admin API (--admin-url and
--admin-token), which also knows recordings in S3. Flags can be given in
the environment: LIVESTREAM_DATA_DIR, LIVESTREAM_RECORD_DIR,
LIVESTREAM_REDIS_URL, LIVESTREAM_ADMIN_URL, LIVESTREAM_ADMIN_TOKEN,
LIVESTREAM_JSON.
`

func runRecordings(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, recordingsUsage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, recordingsUsage)
		return 0
	case "list":
	default:
		fmt.Fprintf(stderr, "livestream recordings: unknown command %q\n\n%s", args[0], recordingsUsage)
		return 2
	}
	fs := flag.NewFlagSet("recordings list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f keysFlags
	f.register(fs, true)
	recordDir := fs.String("record-dir", "", "recordings `dir`ectory (default DATA_DIR/recordings)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: livestream recordings list CHANNEL_ID [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "livestream: recordings list: %v\n", err)
		return 1
	}
	if err := f.fromEnv(fs); err != nil {
		return fail(err)
	}
	if !f.cmdLine["record-dir"] {
		if v := os.Getenv("LIVESTREAM_RECORD_DIR"); v != "" {
			*recordDir = v
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	var list []Recording
	if f.adminURL != "" {
		if f.cmdLine["data-dir"] || f.cmdLine["record-dir"] {
			return fail(errors.New("give --data-dir and --record-dir, or --admin-url, not both"))
		}
		list, err = remoteRecordings(ctx, f.adminURL, f.adminToken, pos[0])
	} else {
		if f.cmdLine["admin-token"] {
			return fail(errors.New("--admin-token needs --admin-url"))
		}
		dir := *recordDir
		if dir == "" {
			if f.redisURL != "" {
				// A cluster's servers record where their own flags say:
				// this machine has no DATA_DIR of theirs to guess from.
				return fail(errors.New("--redis-url needs --record-dir (or ask a server: --admin-url, which also knows S3)"))
			}
			dir = filepath.Join(f.dataDir, "recordings")
		}
		list, err = localRecordings(ctx, &f, dir, pos[0])
	}
	if err != nil {
		return fail(err)
	}
	printRecordings(stdout, list, f.json)
	return 0
}

// localRecordings lists channel id's recordings in the directory dir. A
// Recorder over a spool of its own lists them as the server does (the
// server's spool belongs to the server): it reads each session's
// session.json, and starts nothing since its spool is empty.
func localRecordings(ctx context.Context, f *keysFlags, dir, id string) ([]Recording, error) {
	// The channel from DATA_DIR/channels.json, or the cluster's Redis.
	reg, closeReg, err := f.openStore()
	if err != nil {
		return nil, err
	}
	ch, err := reg.Get(ctx, id)
	closeReg()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	backend, err := record.NewDirBackend(dir)
	if err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	spool, err := os.MkdirTemp("", "livestream-recordings-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)
	rec, err := record.New(record.Config{Backend: backend, SpoolDir: spool, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	defer rec.Close(ctx)
	r := &recording{rec: rec, backend: backend}
	v, err := r.list(ctx, ch)
	if err != nil {
		return nil, err
	}
	return v.([]Recording), nil
}

// remoteRecordings asks the admin API at base.
func remoteRecordings(ctx context.Context, base, token, id string) ([]Recording, error) {
	if token == "" {
		return nil, errors.New("--admin-url needs --admin-token (or LIVESTREAM_ADMIN_TOKEN)")
	}
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("admin URL: want http://HOST:PORT or https://HOST:PORT")
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u.String()+"/api/channels/"+url.PathEscape(id)+"/recordings", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: read answer: %w", u.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("admin API at %s: %d: %s", u.Redacted(), resp.StatusCode, msg)
	}
	var list []Recording
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("admin API at %s: decode answer: %w", u.Redacted(), err)
	}
	return list, nil
}

// printRecordings prints a table, or JSON as the admin API answers. A
// "/vod/" URL is shown on the server's default address.
func printRecordings(w io.Writer, list []Recording, asJSON bool) {
	if asJSON {
		if list == nil {
			list = []Recording{}
		}
		writeJSON(w, list)
		return
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "no recordings")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tSTATE\tSTART\tDURATION\tSIZE\tSEGMENTS\tURL")
	for _, r := range list {
		u := r.URL
		if strings.HasPrefix(u, "/") {
			u = viewerBase + u
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f MB\t%d\t%s\n", r.ID, r.State, r.Start.Local().Format(time.DateTime),
			(time.Duration(r.DurationMS) * time.Millisecond).Round(time.Second), float64(r.Size)/1e6, r.Segments, u)
	}
	tw.Flush()
}
