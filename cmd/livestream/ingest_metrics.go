package main

import (
	"github.com/livestream/livestream/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

// ingestCollector exports the RTMP and RTMPS ingest's counters at each scrape, from
// ingest.Server's snapshot. Its labels are reasons only: never a key, a
// channel or a remote address, which anyone can make up by the million.
type ingestCollector struct {
	stats func() ingest.Stats

	conns, refused, authFailures, delayed, dropped, active *prometheus.Desc
}

func newIngestCollector(stats func() ingest.Stats) *ingestCollector {
	reason := []string{"reason"}
	return &ingestCollector{
		stats: stats,
		conns: prometheus.NewDesc("livestream_ingest_connections_total",
			"RTMP connections accepted, those closed at once included.", nil, nil),
		refused: prometheus.NewDesc("livestream_ingest_refused_connections_total",
			"RTMP and RTMPS connections closed before they published, by reason: max_conns (over --max-conns), "+
				"max_conns_per_addr (over --max-conns-per-addr from one address), tls_handshake (an RTMPS handshake that failed or did not finish in time), "+
				"proxy_header (no valid PROXY protocol header), untrusted_proxy (a peer outside trusted_proxies), "+
				"wrong_app (not rtmp://HOST/stream/…), publish_refused (a good key, but its channel already live or the server at capacity).",
			reason, nil),
		authFailures: prometheus.NewDesc("livestream_ingest_auth_failures_total",
			"Publishes refused by authentication, by reason: unknown_key (unknown, revoked or malformed), "+
				"unavailable (the registry could not be asked).",
			reason, nil),
		delayed: prometheus.NewDesc("livestream_ingest_auth_refusals_delayed_total",
			"Unknown keys whose refusal was delayed because their address failed too often (counted in the unknown_key failures too).", nil, nil),
		dropped: prometheus.NewDesc("livestream_ingest_dropped_packets_total",
			"Packets publishers sent that ingest dropped: video before the first keyframe, tracks that came after the stream started.", nil, nil),
		active: prometheus.NewDesc("livestream_ingest_active_publishes",
			"Publishes accepted and not yet ended.", nil, nil),
	}
}

func (c *ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.refused, c.authFailures, c.delayed, c.dropped, c.active} {
		ch <- d
	}
}

// Collect exports every reason, zero or not, so that rates over them
// start from the first scrape.
func (c *ingestCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.conns, st.Connections)
	for _, r := range []struct {
		reason string
		n      int64
	}{
		{"max_conns", st.Refused.MaxConns},
		{"max_conns_per_addr", st.Refused.MaxConnsPerAddr},
		{"tls_handshake", st.Refused.TLSHandshake},
		{"proxy_header", st.Refused.ProxyHeader},
		{"untrusted_proxy", st.Refused.UntrustedProxy},
		{"wrong_app", st.Refused.WrongApp},
		{"publish_refused", st.Refused.Handler},
	} {
		counter(c.refused, r.n, r.reason)
	}
	for _, r := range []struct {
		reason string
		n      int64
	}{
		{"unknown_key", st.AuthFailures.UnknownKey},
		{"unavailable", st.AuthFailures.Unavailable},
	} {
		counter(c.authFailures, r.n, r.reason)
	}
	counter(c.delayed, st.AuthFailures.Delayed)
	counter(c.dropped, st.DroppedPackets)
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.ActivePublishes))
}
