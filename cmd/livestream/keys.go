package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/livestream/livestream/registry"
)

const keysUsage = `Usage:
  livestream keys create NAME [--json]   make a channel; prints its stream key and URLs
  livestream keys list [--json]          list channels (never their keys)
  livestream keys rotate ID [--json]     issue a new stream key; the old one stops working
  livestream keys revoke ID              delete a channel and its key

Stream settings of channel ID; each one it does not set is the server's:
  livestream keys settings ID [--json]
        show them
  livestream keys settings ID [--reconnect-window DURATION|default]
        [--keep-on-unpublish=true|false] [--json]
        change them. --reconnect-window is how long a stream whose publisher
        left stays live on a slate for the channel's next publish to continue
        it (0 ends it with its publisher; at most 1h; default: the server's
        again). --keep-on-unpublish=true makes a clean "stop streaming" keep
        the stream for the window too, instead of ending it. A change applies
        from the channel's next stream.

Relay destinations of channel ID, where its streams are sent too:
  livestream keys destinations ID [--json]
        list them; their keys show only their last 4 characters
  livestream keys destinations add ID --kind twitch|youtube|facebook
        (--key-file FILE | --key - | --key KEY) [--url BASE_URL] [--disabled] [--json]
  livestream keys destinations add ID --kind custom
        (--url-file FILE | --url - | --url URL) [--disabled] [--json]
        add one, enabled unless --disabled. A platform's key may carry its
        query ("KEY?s_bl=..."); --url BASE_URL (rtmp[s]://HOST/APP) replaces
        the server's ingest URL for that platform. A custom destination is
        one URL, rtmp[s]://HOST[:PORT]/APP/STREAM_KEY.
  livestream keys destinations enable|disable ID DEST_ID [--json]
        start or stop relaying to one
  livestream keys destinations rm ID DEST_ID
        delete one

A key or URL given as an argument (--key KEY, --url URL) is visible to every
user of this machine in "ps", and stays in your shell's history: put it in a
file (--key-file, --url-file), or give "-" and write it on stdin (one line).

Each works on the registry file DIR/channels.json (--data-dir, default ./data),
which a running "livestream serve" shares, on a running server's admin API
(--admin-url and --admin-token), or on a cluster's Redis (--redis-url
redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB]). Every flag can be given in the
environment instead: LIVESTREAM_DATA_DIR, LIVESTREAM_ADMIN_URL,
LIVESTREAM_ADMIN_TOKEN, LIVESTREAM_REDIS_URL, LIVESTREAM_JSON.
`

// Where `keys create` says to publish and watch: the defaults of `serve`.
const (
	publishBase = "rtmp://localhost:1935/stream/"
	viewerBase  = "http://localhost:8080"
)

// adminTimeout bounds one admin API call of the CLI.
const adminTimeout = 30 * time.Second

// keyStore is what the keys commands need of a registry: a local
// registry.FileStore or a remote registry.Client. Destinations come back in
// full from the one, redacted from the other: print them Redacted.
type keyStore interface {
	Create(ctx context.Context, name string) (registry.Channel, string, error)
	List(ctx context.Context) ([]registry.Channel, error)
	Get(ctx context.Context, id string) (registry.Channel, error)
	UpdateSettings(ctx context.Context, id string, u registry.SettingsUpdate) (registry.Channel, error)
	Rotate(ctx context.Context, id string) (registry.Channel, string, error)
	Revoke(ctx context.Context, id string) error
	Destinations(ctx context.Context, channelID string) ([]registry.Destination, error)
	AddDestination(ctx context.Context, channelID string, d registry.Destination) (registry.Destination, error)
	UpdateDestination(ctx context.Context, channelID, destID string, u registry.DestinationUpdate) (registry.Destination, error)
	DeleteDestination(ctx context.Context, channelID, destID string) error
}

var (
	_ keyStore = (*registry.FileStore)(nil)
	_ keyStore = (*registry.Client)(nil)
	_ keyStore = (*registry.RedisStore)(nil)
)

// keysFlags are the options every keys command takes.
type keysFlags struct {
	dataDir, adminURL, adminToken string
	redisURL                      string
	json                          bool
	cmdLine                       map[string]bool // flags given on the command line
}

func runKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, keysUsage)
		return 0
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "destinations":
		return runDestinations(args, stdout, stderr)
	case "settings":
		return runSettings(args, stdout, stderr)
	}
	var arg string // NAME or ID
	switch sub {
	case "create":
		arg = "NAME"
	case "rotate", "revoke":
		arg = "ID"
	case "list":
	default:
		fmt.Fprintf(stderr, "livestream keys: unknown command %q\n\n%s", sub, keysUsage)
		return 2
	}

	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f keysFlags
	f.register(fs, sub != "revoke")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: livestream keys %s [flags]\n", strings.TrimSpace(sub+" "+arg))
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if (arg == "") != (len(pos) == 0) || len(pos) > 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "livestream: keys %s: %v\n", sub, err)
		return 1
	}
	if err := f.fromEnv(fs); err != nil {
		return fail(err)
	}
	ctx, store, done, err := f.open()
	if err != nil {
		return fail(err)
	}
	defer done()

	switch sub {
	case "create":
		c, key, err := store.Create(ctx, pos[0])
		if err != nil {
			return fail(err)
		}
		printIssued(stdout, c, key, f.json, "created")
	case "rotate":
		c, key, err := store.Rotate(ctx, pos[0])
		if err != nil {
			return fail(err)
		}
		printIssued(stdout, c, key, f.json, "has a new stream key; the old one no longer works")
	case "list":
		cs, err := store.List(ctx)
		if err != nil {
			return fail(err)
		}
		printChannels(stdout, cs, f.json)
	case "revoke":
		if err := store.Revoke(ctx, pos[0]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "revoked %s: its stream key no longer works\n", pos[0])
	}
	return 0
}

// register defines on fs the flags every keys command takes; --json only
// if withJSON.
func (f *keysFlags) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&f.dataDir, "data-dir", "data", "`dir`ectory of the registry file channels.json")
	fs.StringVar(&f.adminURL, "admin-url", "", "admin API `url` of a running server, such as http://127.0.0.1:8081 (instead of --data-dir)")
	fs.StringVar(&f.adminToken, "admin-token", "", "admin `token` for --admin-url")
	fs.StringVar(&f.redisURL, "redis-url", "", "a cluster's Redis, redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB] (instead of --data-dir; prefer LIVESTREAM_REDIS_URL, which ps does not show)")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print JSON")
	}
}

// keysEnv are the variables the keys commands read (flagsFromEnv): those
// of the flags every command takes, and no other. A LIVESTREAM_KEY or
// LIVESTREAM_URL exported for something else must not become a relay
// destination's key.
var keysEnv = map[string]bool{
	"LIVESTREAM_DATA_DIR": true, "LIVESTREAM_ADMIN_URL": true, "LIVESTREAM_ADMIN_TOKEN": true, "LIVESTREAM_JSON": true,
	"LIVESTREAM_REDIS_URL": true,
}

// fromEnv fills each of the common flags not given on the command line
// from the environment (flagsFromEnv), remembering which were given.
func (f *keysFlags) fromEnv(fs *flag.FlagSet) error {
	f.cmdLine = setFlags(fs)
	return flagsFromEnv(fs, func(name string) (string, bool) {
		if !keysEnv[name] {
			return "", false
		}
		return os.LookupEnv(name)
	})
}

// open returns the admin API's client if an admin URL is set, the
// cluster's Redis if a Redis URL is, else the registry file under the data
// dir, with a context that ends on SIGINT or
// SIGTERM, and a func to call when done with both.
func (f *keysFlags) open() (context.Context, keyStore, func(), error) {
	store, closeStore, err := f.openStore()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return ctx, store, func() { stop(); closeStore() }, nil
}

func (f *keysFlags) openStore() (keyStore, func(), error) {
	if f.redisURL != "" {
		if f.adminURL != "" || f.cmdLine["data-dir"] {
			return nil, nil, errors.New("give one of --data-dir, --admin-url and --redis-url")
		}
		ctx, cancel := context.WithTimeout(context.Background(), redisOpenTimeout)
		defer cancel()
		s, err := registry.OpenRedis(ctx, f.redisURL)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	if f.adminURL == "" {
		if f.cmdLine["admin-token"] {
			return nil, nil, errors.New("--admin-token needs --admin-url")
		}
		s, err := registry.OpenFile(filepath.Join(f.dataDir, "channels.json"))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	if f.cmdLine["data-dir"] && f.cmdLine["admin-url"] {
		return nil, nil, errors.New("give --data-dir or --admin-url, not both")
	}
	if f.adminToken == "" {
		return nil, nil, errors.New("--admin-url needs --admin-token (or LIVESTREAM_ADMIN_TOKEN)")
	}
	c := &registry.Client{URL: f.adminURL, Token: f.adminToken, HTTP: &http.Client{Timeout: adminTimeout}}
	return c, func() {}, nil
}

// printIssued prints a channel with its new stream key: the one time the
// key is shown, so the block says where it goes and that it is secret.
func printIssued(w io.Writer, c registry.Channel, key string, asJSON bool, what string) {
	if asJSON {
		writeJSON(w, struct {
			ID         string `json:"channel_id"`
			Name       string `json:"name"`
			StreamKey  string `json:"stream_key"`
			PlaybackID string `json:"playback_id"`
		}{c.ID, c.Name, key, c.PlaybackID})
		return
	}
	hls := viewerBase + "/hls/" + c.PlaybackID + "/live.m3u8"
	fmt.Fprintf(w, `Channel %s (%q) %s.

Stream key (secret: anyone who has it can publish as this channel;
it is shown only now and stored only as a hash):
  %s

Publish to:   %s%s
              (OBS: server %s, stream key as above)
Playback id:  %s
Watch:        %s/watch/%s
HLS:          %s
`, c.ID, c.Name, what, key, publishBase, key, strings.TrimSuffix(publishBase, "/"), c.PlaybackID,
		viewerBase, c.PlaybackID, hls)
}

// printChannels prints channels as a table or as JSON.
func printChannels(w io.Writer, cs []registry.Channel, asJSON bool) {
	if asJSON {
		if cs == nil {
			cs = []registry.Channel{}
		}
		writeJSON(w, cs)
		return
	}
	if len(cs) == 0 {
		fmt.Fprintln(w, `no channels; make one with "livestream keys create NAME"`)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL ID\tPLAYBACK ID\tCREATED\tKEY ISSUED\tWINDOW\tUNPUBLISH\tNAME")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.PlaybackID,
			c.CreatedAt.Local().Format(time.DateTime), c.KeyRotatedAt.Local().Format(time.DateTime),
			describeWindow(c.Settings, false), describeUnpublish(c.Settings, false), c.Name)
	}
	tw.Flush()
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
