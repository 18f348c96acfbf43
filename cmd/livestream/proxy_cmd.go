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

	"github.com/livestream/livestream/proxy"
	"github.com/livestream/livestream/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const proxyUsage = `Usage: livestream proxy --redis-url URL [--config FILE] [--rtmp-addr :1935]
                        [--health-addr :8082] [--max-conns-per-addr 8]
                        [--rtmps-addr :1936 --tls-cert FILE --tls-key FILE]

Runs the RTMP front door of a cluster: each publisher's connection goes to
the least-loaded live server of the heartbeats in Redis, and to the next
one when a server cannot be reached, refuses the publish for want of
capacity, hangs up or does not answer: the proxy reads the publisher's
commands up to its publish to replay them, then splices its bytes (media
is never decoded). --proxy-protocol sends each publisher's address to the
servers (start them with --proxy-protocol too).
With --rtmps-addr it takes RTMPS publishers too: it terminates TLS
(--tls-cert, --tls-key, re-read when the files change) and passes plain
RTMP to the servers, as for RTMP publishers. --max-conns-per-addr closes
connections beyond that many from one address (behind a load balancer that
hides the publishers' addresses, set -1).
A proxy keeps no state: run as many as needed behind one name or load
balancer. --health-addr serves /healthz (for probes) and /metrics.

The Redis URL may hold a password: give it as LIVESTREAM_REDIS_URL rather
than a flag. Every flag also reads LIVESTREAM_<FLAG> from the environment.
`

func runProxy(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f roleFlags
	f.register(fs)
	rtmpAddr := fs.String("rtmp-addr", "", "RTMP listen `address` for publishers (default :1935)")
	healthAddr := fs.String("health-addr", ":8082", "HTTP listen `address` for /healthz and /metrics")
	proxyProtocol := fs.Bool("proxy-protocol", false, "send a PROXY protocol v2 header to servers, so that they see each publisher's address (the servers need --proxy-protocol too)")
	doorOverride := doorFlags(fs)
	fs.Usage = func() { fmt.Fprint(stderr, proxyUsage); fs.PrintDefaults() }
	cfg, code, err := f.load(fs, args, func(cfg *Config, set map[string]bool) {
		if set["rtmp-addr"] {
			cfg.Serve.RTMPAddr = *rtmpAddr
		}
		doorOverride(&cfg.Serve.DoorConfig, set)
	})
	if code != 0 {
		if err != nil {
			fmt.Fprintf(stderr, "livestream: proxy: %v\n", err)
		}
		return code
	}
	log := newLogger(stderr, cfg.Serve)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One config key, cluster.proxy_protocol, turns it on for servers and
	// proxies alike.
	if err := clusterProxy(ctx, cfg, *healthAddr, *proxyProtocol || cfg.Cluster.ProxyProtocol, log); err != nil {
		log.Error("proxy failed", "err", err)
		return 1
	}
	return 0
}

// clusterProxy runs the proxy role until ctx is done, then lets the
// publishers' connections drain for up to 10 s.
func clusterProxy(ctx context.Context, cfg Config, healthAddr string, proxyProtocol bool, log *slog.Logger) error {
	sc := cfg.Serve
	openCtx, cancel := context.WithTimeout(ctx, redisOpenTimeout)
	reg, err := registry.OpenRedis(openCtx, sc.RedisURL)
	cancel()
	if err != nil {
		return err
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", sc.RTMPAddr)
	if err != nil {
		return fmt.Errorf("RTMP listener: %w", err)
	}
	hln, err := net.Listen("tcp", healthAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("health listener: %w", err)
	}
	tlsLn, tlsCfg, err := sc.listenRTMPS(log.With("component", "tls"))
	if err != nil {
		ln.Close()
		hln.Close()
		return err
	}
	p := proxy.New(proxy.Config{Servers: reg.Servers, ProxyProtocol: proxyProtocol, MaxConnsPerAddr: sc.MaxConnsPerAddr,
		Logger: log.With("component", "proxy")})
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newProxyCollector(p.Stats))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 3)
	go func() { errc <- p.Serve(ln) }()
	rtmpsAddr := ""
	if tlsLn != nil {
		rtmpsAddr = tlsLn.Addr().String()
		go func() { errc <- p.ServeTLS(tlsLn, tlsCfg) }()
	}
	go func() { errc <- serveErr("HTTP", srv.Serve(hln)) }()
	defer srv.Close()
	log.Info("livestream proxy running", "version", version, "rtmp", ln.Addr().String(), "rtmps", rtmpsAddr, "health", hln.Addr().String())
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("proxy shutdown", "err", err)
	}
	if errors.Is(runErr, proxy.ErrServerClosed) {
		runErr = nil
	}
	log.Info("stopped", "connections", p.Stats().Conns)
	return runErr
}

// proxyCollector exports the proxy's counters at each scrape.
type proxyCollector struct {
	stats                                 func() proxy.Stats
	conns, refused, dialFailures, fallbks *prometheus.Desc
	refusedPerAddr, tlsHandshakes         *prometheus.Desc
	active, bytes                         *prometheus.Desc
}

func newProxyCollector(stats func() proxy.Stats) *proxyCollector {
	return &proxyCollector{
		stats:   stats,
		conns:   prometheus.NewDesc("livestream_proxy_connections_total", "Publisher connections accepted.", nil, nil),
		refused: prometheus.NewDesc("livestream_proxy_refused_total", "Publisher connections refused: over max_conns_per_addr, a failed TLS or RTMP handshake, no server could take them, or a server refused the key.", nil, nil),
		refusedPerAddr: prometheus.NewDesc("livestream_proxy_refused_per_addr_total",
			"Publisher connections closed at once because their address had max_conns_per_addr open (counted in livestream_proxy_refused_total too).", nil, nil),
		tlsHandshakes: prometheus.NewDesc("livestream_proxy_tls_handshake_failures_total",
			"RTMPS connections whose TLS handshake failed or did not finish in time (counted in livestream_proxy_refused_total too).", nil, nil),
		dialFailures: prometheus.NewDesc("livestream_proxy_dial_failures_total", "Servers that could not be reached.", nil, nil),
		fallbks:      prometheus.NewDesc("livestream_proxy_fallbacks_total", "Publishes that went to another server than the first ranked: it could not be reached, refused the publish for want of capacity, hung up or did not answer.", nil, nil),
		active:       prometheus.NewDesc("livestream_proxy_active_connections", "Publisher connections open now.", nil, nil),
		bytes:        prometheus.NewDesc("livestream_proxy_bytes_total", "Bytes spliced, by direction.", []string{"direction"}, nil),
	}
}

func (c *proxyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.refused, c.refusedPerAddr, c.tlsHandshakes, c.dialFailures, c.fallbks, c.active, c.bytes} {
		ch <- d
	}
}

func (c *proxyCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.conns, s.Conns)
	counter(c.refused, s.Refused)
	counter(c.refusedPerAddr, s.RefusedPerAddr)
	counter(c.tlsHandshakes, s.TLSHandshakes)
	counter(c.dialFailures, s.DialFailures)
	counter(c.fallbks, s.Fallbacks)
	counter(c.bytes, s.BytesIn, "in")
	counter(c.bytes, s.BytesOut, "out")
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(s.Active))
}
