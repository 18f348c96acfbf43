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

	"github.com/livestream/livestream/origin"
	"github.com/livestream/livestream/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const originUsage = `Usage: livestream origin --redis-url URL [--config FILE] [--http-addr :8080]
                         [--cache-bytes 512MiB] [--record-dir DIR | --s3-bucket BUCKET …]
                         [--admin-addr ADDR --admin-token TOKEN]

Runs an HTTP front door of a cluster for viewers: /hls/PLAYBACK_ID/… is
fetched from the server that holds the live stream (found through its live
route in Redis), cached in memory (--cache-bytes) and served with the
cache headers of "livestream serve"; N viewers asking at once for one file
cost one fetch. A stream with no route is a 404; a server that does not
answer, a 503. /vod/ serves the recordings from the directory or bucket the
servers record to (--record=false: none); /watch/PLAYBACK_ID the player
page; /healthz and /metrics. An origin keeps no state: run as many as
needed behind one name.

With --admin-addr it also serves the admin API of "livestream serve"
(channels, stream keys, relay destinations, recordings; /api/streams lists
the cluster's live streams) on that address, over the cluster's Redis. Keep
the address private (a port of its own, never the viewers' load balancer);
its bearer token (--admin-token, at least 16 characters) is required and
never logged.

The Redis URL may hold a password, and the admin token is one: give them as
LIVESTREAM_REDIS_URL and LIVESTREAM_ADMIN_TOKEN rather than flags. Every
flag also reads LIVESTREAM_<FLAG> from the environment.
`

func runOrigin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f roleFlags
	f.register(fs)
	httpAddr := fs.String("http-addr", "", "HTTP listen `address` for viewers (default :8080)")
	var admin OriginAdmin
	fs.StringVar(&admin.Addr, "admin-addr", "", "admin API listen `address`, private to the cluster (default: no admin API)")
	fs.StringVar(&admin.Token, "admin-token", "", "admin API bearer `token`, required with --admin-addr (prefer LIVESTREAM_ADMIN_TOKEN)")
	recordOverride := recordFlags(fs)
	clusterOverride := clusterFlags(fs, false)
	fs.Usage = func() { fmt.Fprint(stderr, originUsage); fs.PrintDefaults() }
	cfg, code, err := f.load(fs, args, func(cfg *Config, set map[string]bool) {
		if set["http-addr"] {
			cfg.Serve.HTTPAddr = *httpAddr
		}
		recordOverride(&cfg.Serve.RecordConfig, set)
		clusterOverride(&cfg.Cluster, set)
	})
	if code != 0 {
		if err != nil {
			fmt.Fprintf(stderr, "livestream: origin: %v\n", err)
		}
		return code
	}
	if admin.Token == "" {
		admin.Token = cfg.Serve.AdminToken
	}
	if err := admin.validate(); err != nil {
		fmt.Fprintf(stderr, "livestream: origin: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.Serve)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := clusterOrigin(ctx, cfg, admin, log); err != nil {
		log.Error("origin failed", "err", err)
		return 1
	}
	return 0
}

// clusterOrigin runs the origin role, and its admin API when admin.Addr
// is set, until ctx is done.
func clusterOrigin(ctx context.Context, cfg Config, admin OriginAdmin, log *slog.Logger) error {
	sc, cc := cfg.Serve, cfg.Cluster
	openCtx, cancel := context.WithTimeout(ctx, redisOpenTimeout)
	reg, err := registry.OpenRedis(openCtx, sc.RedisURL)
	cancel()
	if err != nil {
		return err
	}
	defer reg.Close()
	opts := origin.ClusterOptions{
		Options:    origin.Options{Logger: log.With("component", "origin")},
		CacheBytes: int64(cc.CacheBytes),
	}
	var rec *recording
	if rc := sc.RecordConfig; rc.Record == nil || *rc.Record {
		if rec, err = openRecordings(ctx, sc); err != nil {
			return err
		}
		opts.VOD = rec.vod
	}
	cluster := origin.NewCluster(registryRouter(reg), opts)
	defer cluster.Close()

	var adminSrv *http.Server
	var adminLn net.Listener
	if admin.Addr != "" {
		var release func()
		if adminSrv, adminLn, release, err = originAdminServer(admin, reg, rec, sc.DataDir, log); err != nil {
			return err
		}
		defer release()
	}
	ln, err := net.Listen("tcp", sc.HTTPAddr)
	if err != nil {
		if adminLn != nil {
			adminLn.Close()
		}
		return fmt.Errorf("HTTP listener: %w", err)
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newOriginCollector(cluster.Stats))
	mux := http.NewServeMux()
	mux.Handle("/", cluster)
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- serveErr("HTTP", srv.Serve(ln)) }()
	adminAt := "" // the token is never logged
	if adminSrv != nil {
		adminAt = adminLn.Addr().String()
		go func() { errc <- serveErr("admin", adminSrv.Serve(adminLn)) }()
	}
	log.Info("livestream origin running", "version", version, "http", ln.Addr().String(), "admin", adminAt,
		"cache_bytes", cc.CacheBytes.String(), "vod", opts.VOD != nil)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutCtx)
	if adminSrv != nil {
		adminSrv.Shutdown(shutCtx)
	}
	log.Info("stopped")
	return runErr
}

// registryRouter finds a live stream's server from its route in Redis.
func registryRouter(reg *registry.RedisStore) origin.Router {
	return origin.RouterFunc(func(ctx context.Context, pid string) (string, error) {
		r, err := reg.Route(ctx, pid)
		if errors.Is(err, registry.ErrNoRoute) {
			return "", origin.ErrNoRoute
		}
		if err != nil {
			return "", err
		}
		return r.Addr, nil
	})
}

// originCollector exports a Cluster's counters and cache at each scrape.
type originCollector struct {
	stats                              func() origin.ClusterStats
	fetches, fetchErrors, routeLookups *prometheus.Desc
	hits, coalesced, evictions         *prometheus.Desc
	cacheBytes, cacheEntries           *prometheus.Desc
	staleRouteUses, staleRoutes        *prometheus.Desc
}

func newOriginCollector(stats func() origin.ClusterStats) *originCollector {
	return &originCollector{
		stats:        stats,
		fetches:      prometheus.NewDesc("livestream_origin_fetches_total", "Requests made to servers, by kind of file.", []string{"kind"}, nil),
		fetchErrors:  prometheus.NewDesc("livestream_origin_fetch_errors_total", "Fetches that got no answer: server unreachable, too slow, or a body cut short.", nil, nil),
		routeLookups: prometheus.NewDesc("livestream_origin_route_lookups_total", "Live routes read from the registry (the others came from the route cache).", nil, nil),
		hits:         prometheus.NewDesc("livestream_origin_cache_hits_total", "Requests answered from the cache.", nil, nil),
		coalesced:    prometheus.NewDesc("livestream_origin_coalesced_total", "Requests that waited for a fetch another request had started.", nil, nil),
		evictions:    prometheus.NewDesc("livestream_origin_cache_evictions_total", "Cache entries dropped to make room.", nil, nil),
		cacheBytes:   prometheus.NewDesc("livestream_origin_cache_bytes", "Bytes the cache holds.", nil, nil),
		cacheEntries: prometheus.NewDesc("livestream_origin_cache_entries", "Files the cache holds.", nil, nil),
		staleRouteUses: prometheus.NewDesc("livestream_origin_stale_route_uses_total",
			"Fetches routed to a stream's last known server because the registry could not confirm it (Redis unreachable).", nil, nil),
		staleRoutes: prometheus.NewDesc("livestream_origin_stale_routes", "Streams routed now by their last known server, unconfirmed by the registry.", nil, nil),
	}
}

func (c *originCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.fetches, c.fetchErrors, c.routeLookups, c.hits, c.coalesced, c.evictions, c.cacheBytes, c.cacheEntries, c.staleRouteUses, c.staleRoutes} {
		ch <- d
	}
}

func (c *originCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.fetches, s.MasterFetches, "master")
	counter(c.fetches, s.PlaylistFetches, "playlist")
	counter(c.fetches, s.SegmentFetches, "segment")
	counter(c.fetchErrors, s.FetchErrors)
	counter(c.routeLookups, s.RouteLookups)
	counter(c.hits, s.Hits)
	counter(c.coalesced, s.Coalesced)
	counter(c.evictions, s.Evictions)
	counter(c.staleRouteUses, s.StaleRouteUses)
	ch <- prometheus.MustNewConstMetric(c.staleRoutes, prometheus.GaugeValue, float64(s.StaleRoutes))
	ch <- prometheus.MustNewConstMetric(c.cacheBytes, prometheus.GaugeValue, float64(s.CacheBytes))
	ch <- prometheus.MustNewConstMetric(c.cacheEntries, prometheus.GaugeValue, float64(s.CacheEntries))
}
