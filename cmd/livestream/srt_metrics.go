package main

import (
	"github.com/livestream/livestream/ingest/srt"
	"github.com/prometheus/client_golang/prometheus"
)

// srtCollector exports the SRT listener's own counters at each scrape.
// SRT publishes also count in the livestream_ingest_* metrics (auth
// failures, publishes refused, active publishes, dropped packets), which
// they share with RTMP. Labels are reasons only.
type srtCollector struct {
	stats func() srt.Stats

	requests, refused, notTS *prometheus.Desc
}

func newSRTCollector(stats func() srt.Stats) *srtCollector {
	return &srtCollector{
		stats: stats,
		requests: prometheus.NewDesc("livestream_srt_connection_requests_total",
			"SRT connection requests (handshakes) taken, refused ones included.", nil, nil),
		refused: prometheus.NewDesc("livestream_srt_refused_requests_total",
			"SRT connection requests refused before the stream key was looked at, by reason: stream_id "+
				"(no key in it), mode (m=request: reading is not served), passphrase (missing, unexpected or wrong), "+
				"version (a caller without stream ids). Key refusals count in livestream_ingest_auth_failures_total.",
			[]string{"reason"}, nil),
		notTS: prometheus.NewDesc("livestream_srt_not_mpegts_total",
			"SRT publishes ended because the publisher sent something other than MPEG-TS.", nil, nil),
	}
}

func (c *srtCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.refused, c.notTS} {
		ch <- d
	}
}

func (c *srtCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.requests, st.Requests)
	counter(c.refused, st.Refused.StreamID, "stream_id")
	counter(c.refused, st.Refused.Mode, "mode")
	counter(c.refused, st.Refused.Passphrase, "passphrase")
	counter(c.refused, st.Refused.Version, "version")
	counter(c.notTS, st.NotMPEGTS)
}

// collectors are the SRT listener's metrics: none without one.
func (s *srtIngest) collectors() []prometheus.Collector {
	if s.srv == nil {
		return nil
	}
	return []prometheus.Collector{newSRTCollector(s.srv.Stats)}
}
