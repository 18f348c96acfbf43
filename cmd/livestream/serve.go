package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/origin"
	"github.com/livestream/livestream/record"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/relay"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServeConfig is the `serve:` section of the config file. Flags and
// LIVESTREAM_* environment variables override it.
type ServeConfig struct {
	// RTMPAddr is where publishers connect (rtmp://HOST:1935/stream/KEY).
	RTMPAddr string `yaml:"rtmp_addr"`
	// MaxConns caps the RTMP connections open at once, publishing or not
	// (publishers, and anyone else who reaches the port); one more is
	// closed as soon as it is accepted. Default 1000.
	MaxConns int `yaml:"max_conns"`
	// HTTPAddr serves viewers: HLS, the watch page, /healthz, /metrics.
	HTTPAddr string `yaml:"http_addr"`
	// AdminAddr serves the admin API; keep it private.
	AdminAddr string `yaml:"admin_addr"`
	// AdminToken is the admin API's bearer token. Empty: one is generated
	// and kept in DATA_DIR/admin.token.
	AdminToken string `yaml:"admin_token"`
	// DataDir holds the channels (channels.json) and the admin token.
	DataDir string `yaml:"data_dir"`
	// RedisURL, when set, keeps the channels in a cluster's Redis
	// (redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB]) instead of
	// DATA_DIR/channels.json. It may hold a password: prefer
	// LIVESTREAM_REDIS_URL to the file or a flag.
	RedisURL string `yaml:"redis_url"`
	// HLSDir, when set, mirrors every live stream's HLS files to
	// HLS_DIR/<playback id>/ for an external web server.
	HLSDir string `yaml:"hls_dir"`
	// Grace is how long an ended stream's playlists stay (with ENDLIST).
	Grace time.Duration `yaml:"grace"`
	// ReconnectWindow is how long a stream whose publisher dropped (a
	// lost connection, a crash; not "stop streaming") stays live on a
	// slate for the publisher to come back and continue it. 0 ends the
	// stream with its publisher. Default 30s.
	ReconnectWindow *time.Duration `yaml:"reconnect_window"`
	// RelayYouTubeURL, RelayFacebookURL and RelayTwitchURL are the URL
	// prefixes a relay destination's key is appended to (other ingest
	// regions, tests). Defaults: YouTube's, Facebook's and Twitch's.
	RelayYouTubeURL  string `yaml:"relay_youtube_url"`
	RelayFacebookURL string `yaml:"relay_facebook_url"`
	RelayTwitchURL   string `yaml:"relay_twitch_url"`
	// LogFormat is "text", "json" or "auto" (text on a terminal).
	LogFormat string `yaml:"log_format"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// RecordConfig: record, record_renditions, record_dir, s3_*, spool_*,
	// record_retention.
	RecordConfig `yaml:",inline"`
	// DoorConfig: rtmps_addr, tls_cert, tls_key, max_conns_per_addr.
	DoorConfig `yaml:",inline"`
	// SRTConfig: srt_addr, srt_passphrase, srt_latency.
	SRTConfig `yaml:",inline"`
}

func (c ServeConfig) withDefaults() ServeConfig {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.RTMPAddr, ":1935")
	def(&c.HTTPAddr, ":8080")
	def(&c.AdminAddr, "127.0.0.1:8081")
	def(&c.DataDir, "./data")
	def(&c.LogFormat, "auto")
	def(&c.LogLevel, "info")
	def(&c.RelayYouTubeURL, relay.YouTubeBase)
	def(&c.RelayFacebookURL, relay.FacebookBase)
	def(&c.RelayTwitchURL, relay.TwitchBase)
	if c.Grace == 0 {
		c.Grace = 2 * time.Minute
	}
	if c.ReconnectWindow == nil {
		w := defaultReconnectWindow
		c.ReconnectWindow = &w
	}
	if c.MaxConns == 0 {
		c.MaxConns = 1000
	}
	c.RecordConfig = c.RecordConfig.withDefaults()
	c.DoorConfig = c.DoorConfig.withDefaults()
	c.SRTConfig = c.SRTConfig.withDefaults()
	return c
}

func (c ServeConfig) validate() error {
	if c.Grace < 0 {
		return fmt.Errorf("grace %s: must not be negative", c.Grace)
	}
	if w := c.ReconnectWindow; w != nil && *w < 0 {
		return fmt.Errorf("reconnect_window %s: must not be negative", *w)
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("max_conns %d: must be positive", c.MaxConns)
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("log_format %q: want auto, text or json", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.DoorConfig.validate(); err != nil {
		return err
	}
	if err := c.SRTConfig.validate(); err != nil {
		return err
	}
	return c.RecordConfig.validate()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

const serveUsage = `Usage: livestream serve [--config FILE] [--rtmp-addr :1935] [--http-addr :8080]
                        [--admin-addr 127.0.0.1:8081] [--data-dir ./data] [--redis-url URL]
                        [--max-conns 1000] [--max-conns-per-addr 8] [--srt-addr :9000]
                        [--rtmps-addr :1936 --tls-cert FILE --tls-key FILE]

Runs everything on one machine: RTMP (and, with --srt-addr, SRT) ingest
with stream keys, in-process
transcoding to the HLS ladder, HLS and the watch page for viewers, and the
admin API. Every stream is recorded (--record=false: none) to
DATA_DIR/recordings, served at /vod/PLAYBACK_ID/vod-SESSION.m3u8, or to an
S3 bucket (--s3-bucket; credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY or the shared AWS config). With --redis-url the
channels are a cluster's, kept in its Redis. With --rtmps-addr it takes
RTMPS too (rtmps://HOST:1936/stream/KEY), with the certificate and key of
--tls-cert and --tls-key, re-read when the files change.

Every flag also reads LIVESTREAM_<FLAG> from the environment
(LIVESTREAM_RTMP_ADDR, …); flags win over the environment, which wins over
the config file.
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML or JSON config `file`")
	rtmpAddr := fs.String("rtmp-addr", "", "RTMP listen `address` (default :1935)")
	maxConns := fs.Int("max-conns", 0, "close RTMP connections beyond this many open at once (default 1000)")
	httpAddr := fs.String("http-addr", "", "HTTP listen `address` for viewers (default :8080)")
	adminAddr := fs.String("admin-addr", "", "admin API listen `address` (default 127.0.0.1:8081)")
	adminToken := fs.String("admin-token", "", "admin API bearer `token` (default: generated, in DATA_DIR/admin.token)")
	dataDir := fs.String("data-dir", "", "data `directory`: channels and admin token (default ./data)")
	redisURL := fs.String("redis-url", "", "keep the channels in this Redis, redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB], shared with a cluster (default: DATA_DIR/channels.json)")
	hlsDir := fs.String("hls-dir", "", "mirror live HLS files to this `directory` (default: memory only)")
	grace := fs.Duration("grace", 0, "how long an ended stream's playlists stay (default 2m)")
	window := reconnectWindowFlag(fs)
	logFormat := fs.String("log-format", "", "log format: auto, text or json (default auto: text on a terminal)")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn or error (default info)")
	relayYouTube := fs.String("relay-youtube-url", "", "YouTube ingest `URL` the key is appended to (default "+relay.YouTubeBase+")")
	relayFacebook := fs.String("relay-facebook-url", "", "Facebook ingest `URL` the key is appended to (default "+relay.FacebookBase+")")
	relayTwitch := fs.String("relay-twitch-url", "", "Twitch ingest `URL` the key is appended to (default "+relay.TwitchBase+")")
	recordOverride := recordFlags(fs)
	doorOverride := doorFlags(fs)
	srtOverride := srtFlags(fs)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := flagsFromEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "livestream: serve: %v\n", err)
		return 2
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "livestream: serve: %v\n", err)
		return 1
	}
	sc := &cfg.Serve
	set := setFlags(fs)
	override := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	override("rtmp-addr", &sc.RTMPAddr, *rtmpAddr)
	override("http-addr", &sc.HTTPAddr, *httpAddr)
	override("admin-addr", &sc.AdminAddr, *adminAddr)
	override("admin-token", &sc.AdminToken, *adminToken)
	override("data-dir", &sc.DataDir, *dataDir)
	override("redis-url", &sc.RedisURL, *redisURL)
	override("hls-dir", &sc.HLSDir, *hlsDir)
	override("log-format", &sc.LogFormat, *logFormat)
	override("log-level", &sc.LogLevel, *logLevel)
	override("relay-youtube-url", &sc.RelayYouTubeURL, *relayYouTube)
	override("relay-facebook-url", &sc.RelayFacebookURL, *relayFacebook)
	override("relay-twitch-url", &sc.RelayTwitchURL, *relayTwitch)
	if set["grace"] {
		sc.Grace = *grace
	}
	if set["reconnect-window"] {
		sc.ReconnectWindow = window
	}
	if set["max-conns"] {
		sc.MaxConns = *maxConns
	}
	recordOverride(&sc.RecordConfig, set)
	doorOverride(&sc.DoorConfig, set)
	srtOverride(&sc.SRTConfig, set)
	*sc = sc.withDefaults()
	if err := sc.validate(); err != nil {
		fmt.Fprintf(stderr, "livestream: serve: %v\n", err)
		return 2
	}
	log := newLogger(stderr, *sc)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// newLogger logs text on a terminal and JSON otherwise (to a collector).
func newLogger(w io.Writer, c ServeConfig) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	format := c.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	var log *slog.Logger
	if format == "text" {
		log = slog.New(slog.NewTextHandler(w, opts))
	} else {
		log = slog.New(slog.NewJSONHandler(w, opts))
	}
	// go-redis would print its own plain-text lines into the log.
	registry.SetRedisLogger(log.With("component", "redis"))
	return log
}

// serve runs every part of the all-in-one server until ctx is done, then
// shuts down in order: stop taking publishes, end the live streams (their
// playlists get ENDLIST), then stop the HTTP servers.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	sc := cfg.Serve
	codec.SetLogger(log.With("component", "ffmpeg"))
	if err := os.MkdirAll(sc.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	token, tokenFile, err := adminToken(sc)
	if err != nil {
		return err
	}
	reg, closeReg, err := openRegistry(ctx, sc)
	if err != nil {
		return err
	}
	defer closeReg()
	rec, err := newRecording(ctx, sc, cfg.Transcode.SegmentDuration, log.With("component", "record"))
	if err != nil {
		return err
	}
	var recorder *record.Recorder
	var vod origin.VODSource
	adminOpts := []registry.AdminOption{}
	if rec != nil {
		// On the way out of an early return; after the streams otherwise.
		defer rec.close(log)
		recorder, vod = rec.rec, rec.vod
		adminOpts = append(adminOpts, registry.WithRecordings(rec.list))
	}
	streams, err := live.NewManager(live.Config{
		Recorder: recorder,
		Pipeline: cfg.Transcode, HLS: cfg.HLS, Grace: sc.Grace, ReconnectWindow: *sc.ReconnectWindow, MirrorDir: sc.HLSDir, Logger: log.With("component", "live"),
		Relays:       live.RelayConfig{YouTube: sc.RelayYouTubeURL, Facebook: sc.RelayFacebookURL, Twitch: sc.RelayTwitchURL},
		Destinations: reg.Destinations,
	})
	if err != nil {
		return err
	}
	unsubscribe := reg.Subscribe(func(c registry.Change) {
		switch c.What {
		case registry.DestinationsChanged:
			// Stopping a relay waits for its destination a little; the
			// registry's caller (an admin request) must not.
			go streams.DestinationsChanged(c.ChannelID)
		case registry.SettingsChanged:
			// The channel's next stream reads them; the live one goes on.
		default: // key rotated, channel revoked
			streams.Kick(c.ChannelID)
		}
	})
	defer unsubscribe()

	rtmpLn, err := net.Listen("tcp", sc.RTMPAddr)
	if err != nil {
		return fmt.Errorf("RTMP listener: %w", err)
	}
	httpLn, err := net.Listen("tcp", sc.HTTPAddr)
	if err != nil {
		rtmpLn.Close()
		return fmt.Errorf("HTTP listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", sc.AdminAddr)
	if err != nil {
		rtmpLn.Close()
		httpLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}

	rtmpsLn, rtmpsTLS, err := sc.listenRTMPS(log.With("component", "tls"))
	if err != nil {
		rtmpLn.Close()
		httpLn.Close()
		adminLn.Close()
		return err
	}
	rtmp, err := ingest.NewServer(ingest.Config{
		Auth: reg, Handler: publishHandler{reg, streams}, Logger: log.With("component", "ingest"),
		MaxConns: sc.MaxConns, MaxConnsPerAddr: sc.MaxConnsPerAddr,
	})
	if err != nil {
		return err
	}
	srtIn, err := listenSRT(sc.SRTConfig, rtmp, log.With("component", "ingest"))
	if err != nil {
		rtmpLn.Close()
		httpLn.Close()
		adminLn.Close()
		if rtmpsLn != nil {
			rtmpsLn.Close()
		}
		return err
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStreamCollector(streams), newIngestCollector(rtmp.Stats))
	if recorder != nil {
		metrics.MustRegister(newRecorderCollector(recorder.Stats))
	}
	metrics.MustRegister(srtIn.collectors()...)
	viewers := http.NewServeMux()
	viewers.Handle("/", origin.NewLocal(streams, origin.Options{Logger: log.With("component", "origin"), VOD: vod}))
	viewers.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	viewers.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	httpSrv := &http.Server{Handler: viewers, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	adminSrv := &http.Server{
		Handler:           registry.AdminHandler(reg, token, func() any { return streams.Streams() }, adminOpts...),
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	errc := make(chan error, 5)
	go func() { errc <- serveErr("RTMP", rtmp.Serve(rtmpLn)) }()
	rtmpsAddr := ""
	if rtmpsLn != nil {
		rtmpsAddr = rtmpsLn.Addr().String()
		go func() { errc <- serveErr("RTMPS", rtmp.ServeTLS(rtmpsLn, rtmpsTLS)) }()
	}
	srtIn.serve(errc)
	go func() { errc <- serveErr("HTTP", httpSrv.Serve(httpLn)) }()
	go func() { errc <- serveErr("admin", adminSrv.Serve(adminLn)) }()
	log.Info("livestream serving",
		"version", version, "rtmp", rtmpLn.Addr().String(), "rtmps", rtmpsAddr, "http", httpLn.Addr().String(),
		"admin", adminLn.Addr().String(), "admin_token_file", tokenFile, "data_dir", sc.DataDir, "srt", srtIn.addr())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	// Stop taking publishes and disconnect the publishers; each stream
	// flushes and ends its playlists.
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rtmp.Shutdown(shutCtx); err != nil {
		log.Warn("RTMP shutdown", "err", err)
	}
	srtIn.shutdown(shutCtx, log)
	if err := streams.Shutdown(shutCtx); err != nil {
		log.Warn("streams did not end in time", "err", err)
	}
	// The streams have ended their recording sessions: give their last
	// uploads a moment.
	if rec != nil {
		rec.close(log)
	}
	// Then the HTTP side: requests in flight finish, none start.
	httpSrv.Shutdown(shutCtx)
	adminSrv.Shutdown(shutCtx)
	log.Info("stopped")
	return runErr
}

func serveErr(what string, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, ingest.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("%s server: %w", what, err)
}

// adminToken returns the configured admin token, or the one kept in
// DATA_DIR/admin.token, made on first start.
func adminToken(sc ServeConfig) (token, file string, err error) {
	if sc.AdminToken != "" {
		return sc.AdminToken, "", nil
	}
	file = filepath.Join(sc.DataDir, "admin.token")
	if b, err := os.ReadFile(file); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, file, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("admin token: %w", err)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(raw[:])
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("admin token: %w", err)
	}
	return token, file, nil
}

// defaultReconnectWindow is how long a dropped publisher's stream waits for
// it: long enough for OBS to reconnect a few times, or a phone to change
// networks; short enough that viewers of a creator who is really gone are
// not kept on a still picture for long.
const defaultReconnectWindow = 30 * time.Second

// reconnectWindowFlag registers --reconnect-window.
func reconnectWindowFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("reconnect-window", defaultReconnectWindow,
		"how long a stream whose publisher dropped stays live on a slate, waiting for it (0: end it at once)")
}

// publishHandler hands each authenticated publish to the table of live
// streams.
type publishHandler struct {
	reg     registry.Store
	streams *live.Manager
}

// errKeyChanged refuses a publish whose key was rotated or revoked while it
// was being accepted.
var errKeyChanged = errors.New("stream key rotated or revoked")

func (h publishHandler) Publish(ctx context.Context, ch registry.Channel, info ingest.PublishInfo) (ingest.Sink, error) {
	s, err := h.streams.Publish(ch, info.RemoteAddr, info.Query)
	if err != nil {
		return nil, err
	}
	// A rotation between the key check and the registration above kicked
	// nothing: look again now that the stream is where Kick finds it.
	now, err := h.reg.Get(ctx, ch.ID)
	if err != nil || !now.KeyRotatedAt.Equal(ch.KeyRotatedAt) {
		s.End(errKeyChanged)
		return nil, errKeyChanged
	}
	return s, nil
}
