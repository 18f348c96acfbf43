package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/origin"
	"github.com/prometheus/client_golang/prometheus"
)

// TestHLSRequestCounter: 200 concurrent requests for one segment, as 200
// viewers without an origin's coalescing would make, count 200 exactly,
// answered 404 or not; playlists and other paths count apart.
func TestHLSRequestCounter(t *testing.T) {
	streams, err := live.NewManager(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	hls := newHLSRequests()
	srv := httptest.NewServer(hls.count(origin.NewLocal(streams, origin.Options{})))
	defer srv.Close()

	const viewers = 200
	paths := map[string]int{
		"/hls/abcdefghijkl/720p/1795639871679.ts": viewers,
		"/hls/abcdefghijkl/720p/index.m3u8":       7,
		"/hls/abcdefghijkl/live.m3u8":             3,
		"/hls/abcdefghijkl/720p/init.mp4":         2,
		"/hls/abcdefghijkl/720p/1.m4s":            2,
		"/hls/abcdefghijkl/watch":                 4,
		"/favicon.ico":                            1,
	}
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: viewers}}
	defer client.CloseIdleConnections()
	for p, n := range paths {
		for range n {
			wg.Go(func() {
				resp, err := client.Get(srv.URL + p)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s: %d, want 404 (no stream)", p, resp.StatusCode)
				}
			})
		}
	}
	wg.Wait()
	reg := prometheus.NewRegistry()
	reg.MustRegister(hls.total)
	families, err := reg.Gather()
	if err != nil || len(families) != 1 || families[0].GetName() != "livestream_server_hls_requests_total" {
		t.Fatalf("gathered %v, %v", families, err)
	}
	got := map[string]float64{}
	for _, m := range families[0].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	for kind, want := range map[string]float64{"segment": viewers + 4, "playlist": 10, "other": 5} {
		if got[kind] != want {
			t.Errorf("%s requests counted: %v, want %v", kind, got[kind], want)
		}
	}
}
