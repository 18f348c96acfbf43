package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestViewer plays a live stream that grows by one segment at each reload
// and ends at the third: the viewer starts 3 segments from the live edge,
// fetches each new segment once, in order, and stops at EXT-X-ENDLIST.
func TestViewer(t *testing.T) {
	var (
		mu       sync.Mutex
		reloads  int
		segments []string
		other    int // requests for anything else
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch p := r.URL.Path; {
		case p == "/hls/pid/live.m3u8":
			fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n")
		case p == "/hls/pid/360p/index.m3u8":
			first := 10 + reloads
			fmt.Fprintf(w, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
			for seq := first; seq < first+6; seq++ {
				fmt.Fprintf(w, "#EXTINF:1.000,\n%d.ts\n", seq)
			}
			if reloads == 2 {
				fmt.Fprint(w, "#EXT-X-ENDLIST\n")
			}
			reloads++
		case strings.HasPrefix(p, "/hls/pid/360p/") && strings.HasSuffix(p, ".ts"):
			segments = append(segments, strings.TrimPrefix(p, "/hls/pid/360p/"))
		default:
			other++
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	var counts viewerCounts
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	runViewers(ctx, srv.Client(), srv.URL+"/hls/pid/live.m3u8", 1, &counts)
	if ctx.Err() != nil {
		t.Fatal("the viewer did not stop at EXT-X-ENDLIST")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"13.ts", "14.ts", "15.ts", "16.ts", "17.ts"}; !slices.Equal(segments, want) {
		t.Errorf("segments fetched %q, want %q", segments, want)
	}
	if reloads != 3 || other != 0 {
		t.Errorf("%d playlist loads and %d other requests; want 3 and 0", reloads, other)
	}
	if counts.master.Load() != 1 || counts.playlists.Load() != 3 || counts.segments.Load() != 5 || counts.failed.Load() != 0 {
		t.Errorf("counts: %s; want 1 master, 3 media playlists, 5 segments, 0 failed", &counts)
	}
	if counts.requests() != 9 {
		t.Errorf("requests() = %d, want 9", counts.requests())
	}
}

// TestViewersStopAndCountFailures: viewers of a stream that is not there
// count the 404 and stop; viewers are spread over the variants.
func TestViewersStopAndCountFailures(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/hls/pid/live.m3u8" {
			fmt.Fprint(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb/index.m3u8\n")
			return
		}
		fmt.Fprint(w, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-ENDLIST\n")
	}))
	defer srv.Close()
	var counts viewerCounts
	runViewers(context.Background(), srv.Client(), srv.URL+"/hls/pid/live.m3u8", 4, &counts)
	if asked["/hls/pid/a/index.m3u8"] != 2 || asked["/hls/pid/b/index.m3u8"] != 2 {
		t.Errorf("4 viewers asked %v; want 2 per variant", asked)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	var lost viewerCounts
	runViewers(context.Background(), gone.Client(), gone.URL+"/hls/pid/live.m3u8", 3, &lost)
	if lost.master.Load() != 3 || lost.failed.Load() != 3 {
		t.Errorf("viewers of a missing stream: %s; want 3 master requests, 3 failed", &lost)
	}
}
