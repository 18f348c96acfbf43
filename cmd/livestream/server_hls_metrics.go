package main

import (
	"net/http"
	"path"

	"github.com/prometheus/client_golang/prometheus"
)

// hlsRequests counts the HLS requests that reach a server's internal
// listener (origins' fetches), by kind: every one, 404s included, so that
// an origin's request coalescing shows as one request per segment however
// many viewers watch it. /healthz and /metrics are not counted.
type hlsRequests struct {
	total                    *prometheus.CounterVec
	segment, playlist, other prometheus.Counter
}

func newHLSRequests() *hlsRequests {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "livestream_server_hls_requests_total",
		Help: "HLS requests received from origins, by kind: segment (.ts, .m4s, .mp4), playlist (.m3u8) or other; whatever the answer.",
	}, []string{"kind"})
	// Each kind is exported from the start, at 0.
	return &hlsRequests{
		total:   total,
		segment: total.WithLabelValues("segment"), playlist: total.WithLabelValues("playlist"), other: total.WithLabelValues("other"),
	}
}

// count returns next counting each request it is given.
func (c *hlsRequests) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.kind(r.URL.Path).Inc()
		next.ServeHTTP(w, r)
	})
}

func (c *hlsRequests) kind(p string) prometheus.Counter {
	switch path.Ext(p) {
	case ".ts", ".m4s", ".mp4":
		return c.segment
	case ".m3u8":
		return c.playlist
	}
	return c.other
}
