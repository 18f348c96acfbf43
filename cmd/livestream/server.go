package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/origin"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/relay"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const serverUsage = `Usage: livestream server --redis-url URL [--config FILE] [--rtmp-addr :1935]
                         [--internal-http-addr :8090] [--advertise-addr HOST:PORT]
                         [--max-streams N] [--max-cpu FRACTION] [--max-conns 1000]
                         [--max-conns-per-addr 8] [--data-dir ./data] [--srt-addr :9000]
                         [--rtmps-addr :1936 --tls-cert FILE --tls-key FILE]
                         [--proxy-protocol [--trusted-proxies CIDR,CIDR]]

Runs an ingest and transcoding server of a cluster: RTMP publishes (from
proxies or publishers) checked against the channels in Redis, transcoded
to the HLS ladder, recorded and relayed as "livestream serve" does. Origins
fetch its live HLS from --internal-http-addr, found through the live route
it keeps in Redis for each stream (set at the stream's first segment,
refreshed, and expiring within --route-ttl of a crash). It sends a
heartbeat with its load to Redis, for proxies, and refuses publishes
beyond --max-streams, or while its share of the machine's CPU (the mean
of the last 5 s) is at --max-cpu or above. Behind proxies started with
--proxy-protocol, give --proxy-protocol here too: every RTMP connection
then opens with a PROXY header carrying the publisher's address.
SRT publishers (--srt-addr) connect to a server directly: the proxy role
does not forward SRT.

The Redis URL, redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB], may hold a
password: give it as LIVESTREAM_REDIS_URL rather than a flag, which "ps"
shows. Every flag also reads LIVESTREAM_<FLAG> from the environment; flags
win over the environment, which wins over the config file (sections serve:
and cluster:).
`

// roleFlags are the flags every role of a cluster takes, over the serve:
// section of the config.
type roleFlags struct {
	config, redisURL, dataDir, logFormat, logLevel string
	grace                                          time.Duration
}

func (f *roleFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML or JSON config `file`")
	fs.StringVar(&f.redisURL, "redis-url", "", "the cluster's Redis, redis[s]://[[USER]:PASSWORD@]HOST:PORT[/DB] (required; prefer LIVESTREAM_REDIS_URL)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data `directory`: recordings spool and directory (default ./data)")
	fs.StringVar(&f.logFormat, "log-format", "", "log format: auto, text or json (default auto: text on a terminal)")
	fs.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn or error (default info)")
}

// load parses args into fs, reads the environment and the config file,
// and applies the flags given; apply copies the role's own flags.
func (f *roleFlags) load(fs *flag.FlagSet, args []string, apply func(cfg *Config, set map[string]bool)) (Config, int, error) {
	if err := fs.Parse(args); err != nil {
		return Config{}, 2, nil
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return Config{}, 2, nil
	}
	if err := flagsFromEnv(fs, os.LookupEnv); err != nil {
		return Config{}, 2, err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return cfg, 1, err
	}
	set := setFlags(fs)
	sc := &cfg.Serve
	for name, p := range map[string]struct{ dst, v *string }{
		"redis-url": {&sc.RedisURL, &f.redisURL}, "data-dir": {&sc.DataDir, &f.dataDir},
		"log-format": {&sc.LogFormat, &f.logFormat}, "log-level": {&sc.LogLevel, &f.logLevel},
	} {
		if set[name] {
			*p.dst = *p.v
		}
	}
	apply(&cfg, set)
	cfg.Serve = cfg.Serve.withDefaults()
	cfg.Cluster = cfg.Cluster.withDefaults()
	if err := cfg.Serve.validate(); err != nil {
		return cfg, 2, err
	}
	if err := cfg.Cluster.validate(); err != nil {
		return cfg, 2, err
	}
	if cfg.Serve.RedisURL == "" {
		return cfg, 2, errors.New("--redis-url (or LIVESTREAM_REDIS_URL, or serve.redis_url): required")
	}
	return cfg, 0, nil
}

func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f roleFlags
	f.register(fs)
	rtmpAddr := fs.String("rtmp-addr", "", "RTMP listen `address` (default :1935)")
	maxConns := fs.Int("max-conns", 0, "close RTMP connections beyond this many open at once (default 1000)")
	grace := fs.Duration("grace", 0, "how long an ended stream's playlists stay (default 2m)")
	window := reconnectWindowFlag(fs)
	relayYouTube := fs.String("relay-youtube-url", "", "YouTube ingest `URL` the key is appended to (default "+relay.YouTubeBase+")")
	relayFacebook := fs.String("relay-facebook-url", "", "Facebook ingest `URL` the key is appended to (default "+relay.FacebookBase+")")
	relayTwitch := fs.String("relay-twitch-url", "", "Twitch ingest `URL` the key is appended to (default "+relay.TwitchBase+")")
	recordOverride := recordFlags(fs)
	srtOverride := srtFlags(fs)
	clusterOverride := clusterFlags(fs, true)
	doorOverride := doorFlags(fs)
	fs.Usage = func() { fmt.Fprint(stderr, serverUsage); fs.PrintDefaults() }
	cfg, code, err := f.load(fs, args, func(cfg *Config, set map[string]bool) {
		sc := &cfg.Serve
		for name, p := range map[string]struct{ dst, v *string }{
			"rtmp-addr": {&sc.RTMPAddr, rtmpAddr}, "relay-youtube-url": {&sc.RelayYouTubeURL, relayYouTube},
			"relay-facebook-url": {&sc.RelayFacebookURL, relayFacebook}, "relay-twitch-url": {&sc.RelayTwitchURL, relayTwitch},
		} {
			if set[name] {
				*p.dst = *p.v
			}
		}
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
		clusterOverride(&cfg.Cluster, set)
	})
	if code != 0 {
		if err != nil {
			fmt.Fprintf(stderr, "livestream: server: %v\n", err)
		}
		return code
	}
	log := newLogger(stderr, cfg.Serve)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := clusterServer(ctx, cfg, log); err != nil {
		log.Error("server failed", "err", err)
		return 1
	}
	return 0
}

// clusterServer runs the server role until ctx is done, then shuts down in
// order: leave the proxies' list, stop taking publishes, end the live
// streams, remove their routes (ended routes outlive a stream by its grace
// period, which this server will not serve), then stop the internal HTTP
// server.
func clusterServer(ctx context.Context, cfg Config, log *slog.Logger) error {
	sc, cc := cfg.Serve, cfg.Cluster
	codec.SetLogger(log.With("component", "ffmpeg"))
	if err := os.MkdirAll(sc.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	openCtx, cancel := context.WithTimeout(ctx, redisOpenTimeout)
	reg, err := registry.OpenRedis(openCtx, sc.RedisURL)
	cancel()
	if err != nil {
		return err
	}
	defer reg.Close()

	rtmpLn, err := net.Listen("tcp", sc.RTMPAddr)
	if err != nil {
		return fmt.Errorf("RTMP listener: %w", err)
	}
	internalLn, err := net.Listen("tcp", cc.InternalHTTPAddr)
	if err != nil {
		rtmpLn.Close()
		return fmt.Errorf("internal HTTP listener: %w", err)
	}
	if cc, err = cc.advertised(internalLn.Addr(), rtmpLn.Addr()); err != nil {
		rtmpLn.Close()
		internalLn.Close()
		return err
	}

	rec, err := newRecording(ctx, sc, cfg.Transcode.SegmentDuration, log.With("component", "record"))
	if err != nil {
		rtmpLn.Close()
		internalLn.Close()
		return err
	}
	cpu := cc.cpu
	if cpu == nil {
		cpu = newCPUGauge(cc.MaxCPU)
	}
	liveCfg := live.Config{
		Pipeline: cfg.Transcode, HLS: cfg.HLS, Grace: sc.Grace, ReconnectWindow: *sc.ReconnectWindow, Logger: log.With("component", "live"),
		Relays:       live.RelayConfig{YouTube: sc.RelayYouTubeURL, Facebook: sc.RelayFacebookURL, Twitch: sc.RelayTwitchURL},
		Destinations: destinationsWithin(reg, destinationsTimeout),
		Routes:       redisRoutes{reg: reg, server: cc.ServerID, addr: cc.AdvertiseAddr, grace: sc.Grace},
		Continuity:   redisContinuity{reg: reg, server: cc.ServerID, ttl: positionTTL(*sc.ReconnectWindow)},
		RouteTTL:     cc.RouteTTL, MaxStreams: cc.MaxStreams, Overloaded: cpu.Overloaded,
	}
	if rec != nil {
		defer rec.close(log)
		liveCfg.Recorder = rec.rec
	}
	streams, err := live.NewManager(liveCfg)
	if err != nil {
		rtmpLn.Close()
		internalLn.Close()
		return err
	}
	// Channels this server authenticated keep publishing here while Redis
	// is away (never a key it has not seen, nor for longer than the
	// cache's TTL).
	auth := registry.NewAuthCache(reg, registry.AuthCacheConfig{Logger: log.With("component", "auth")})
	defer auth.Close()
	unsubscribe := reg.Subscribe(func(c registry.Change) {
		switch c.What {
		case registry.DestinationsChanged:
			go streams.DestinationsChanged(c.ChannelID)
		case registry.SettingsChanged:
			// The channel's next stream reads them; the live one goes on.
		default: // key rotated, channel revoked
			streams.Kick(c.ChannelID)
		}
	})
	defer unsubscribe()

	rtmpsLn, rtmpsTLS, err := sc.listenRTMPS(log.With("component", "tls"))
	if err != nil {
		rtmpLn.Close()
		internalLn.Close()
		return err
	}
	rtmp, err := ingest.NewServer(ingest.Config{
		Auth: auth, Handler: publishHandler{auth, streams}, Logger: log.With("component", "ingest"),
		ProxyProtocol: cc.ProxyProtocol, TrustedProxies: cc.TrustedProxies,
		MaxConns: sc.MaxConns, MaxConnsPerAddr: sc.MaxConnsPerAddr,
	})
	if err != nil {
		rtmpLn.Close()
		internalLn.Close()
		if rtmpsLn != nil {
			rtmpsLn.Close()
		}
		return err
	}
	srtIn, err := listenSRT(sc.SRTConfig, rtmp, log.With("component", "ingest"))
	if err != nil {
		rtmpLn.Close()
		internalLn.Close()
		if rtmpsLn != nil {
			rtmpsLn.Close()
		}
		return err
	}
	hls := newHLSRequests()
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStreamCollector(streams), newIngestCollector(rtmp.Stats), hls.total,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "livestream_server_auth_cache_vouched_total",
			Help: "Publishes accepted on this server's cache of authenticated keys because Redis was unreachable.",
		}, func() float64 { return float64(auth.Vouched()) }))
	if rec != nil {
		metrics.MustRegister(newRecorderCollector(rec.rec.Stats))
	}
	metrics.MustRegister(srtIn.collectors()...)
	mux := http.NewServeMux()
	mux.Handle("/", hls.count(origin.NewLocal(streams, origin.Options{Logger: log.With("component", "origin")})))
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	errc := make(chan error, 4)
	go func() { errc <- serveErr("RTMP", rtmp.Serve(rtmpLn)) }()
	rtmpsAddr := ""
	if rtmpsLn != nil {
		rtmpsAddr = rtmpsLn.Addr().String()
		go func() { errc <- serveErr("RTMPS", rtmp.ServeTLS(rtmpsLn, rtmpsTLS)) }()
	}
	srtIn.serve(errc)
	go func() { errc <- serveErr("internal HTTP", httpSrv.Serve(internalLn)) }()
	beat := &heartbeat{reg: reg, streams: streams, cfg: cc, log: log.With("component", "heartbeat"), cpu: cpu}
	beatCtx, stopBeat := context.WithCancel(context.Background())
	beatDone := make(chan struct{})
	go func() { defer close(beatDone); beat.run(beatCtx) }()
	cpuCtx, stopCPU := context.WithCancel(context.Background())
	cpuDone := make(chan struct{})
	go func() { defer close(cpuDone); cpu.run(cpuCtx) }()
	defer func() { stopCPU(); <-cpuDone }()
	log.Info("livestream server running",
		"version", version, "server_id", cc.ServerID, "rtmp", rtmpLn.Addr().String(), "rtmps", rtmpsAddr, "internal_http", internalLn.Addr().String(),
		"advertise", cc.AdvertiseAddr, "advertise_rtmp", cc.AdvertiseRTMPAddr, "max_streams", cc.MaxStreams, "max_cpu", cc.MaxCPU, "route_ttl", cc.RouteTTL,
		"proxy_protocol", cc.ProxyProtocol, "trusted_proxies", cc.TrustedProxies.String(), "srt", srtIn.addr())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	// Leave the proxies' list first, so that no publish comes here while
	// the others end.
	stopBeat()
	<-beatDone
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.RemoveServer(shutCtx, cc.ServerID); err != nil {
		log.Warn("heartbeat not removed: it expires by itself", "err", err)
	}
	if d := *cc.DrainTimeout; d > 0 && streams.LiveCount() > 0 {
		// The streams move to the other servers: their publishers come
		// back through the proxies, which no longer list this one.
		log.Info("draining: asking the publishers to publish again on another server", "streams", streams.LiveCount(), "drain_timeout", d)
		drainCtx, cancelDrain := context.WithTimeout(context.Background(), d)
		if err := streams.Drain(drainCtx); err != nil {
			log.Warn("streams still here after the drain timeout: they end now", "streams", streams.LiveCount())
		} else {
			log.Info("drained: every stream moved or ended")
		}
		cancelDrain()
	}
	if err := rtmp.Shutdown(shutCtx); err != nil {
		log.Warn("RTMP shutdown", "err", err)
	}
	srtIn.shutdown(shutCtx, log)
	if err := streams.Shutdown(shutCtx); err != nil {
		log.Warn("streams did not end in time", "err", err)
	}
	removeEndedRoutes(shutCtx, reg, cc.ServerID, streams, log)
	if rec != nil {
		rec.close(log)
	}
	httpSrv.Shutdown(shutCtx)
	log.Info("stopped")
	return runErr
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// destinationsTimeout bounds the load of a channel's stored relay
// destinations, which every publish waits for: a healthy Redis answers in
// a millisecond, and one that is down must not hold a publish past the 5 s
// a proxy gives a server to accept it (the publish goes on without its
// stored relays, and live logs so).
const destinationsTimeout = time.Second

// destinationsWithin is reg.Destinations, bounded by timeout.
func destinationsWithin(reg *registry.RedisStore, timeout time.Duration) func(context.Context, string) ([]registry.Destination, error) {
	return func(ctx context.Context, channelID string) ([]registry.Destination, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return reg.Destinations(ctx, channelID)
	}
}
