package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// viewerCounts counts what the viewers asked the origin, by kind of file;
// a request counts once its answer has been read, whatever its status.
type viewerCounts struct {
	master, playlists, segments atomic.Int64
	// failed counts answers other than 200 and requests that got none.
	failed atomic.Int64
}

// requests returns the requests answered so far.
func (c *viewerCounts) requests() int64 {
	return c.master.Load() + c.playlists.Load() + c.segments.Load()
}

// liveEdgeSegments is how far from the end of the playlist a viewer starts,
// as hls.js's liveSyncDurationCount (3) does.
const liveEdgeSegments = 3

// runViewers plays the live stream at masterURL with n viewers until ctx
// is done, each as hls.js does: the master playlist once, one variant
// (viewer i takes variant i modulo their number), its media playlist
// reloaded every target duration (half of it when it had nothing new),
// and every new segment fetched once, starting liveEdgeSegments from the
// end. It returns once every viewer has stopped.
func runViewers(ctx context.Context, client *http.Client, masterURL string, n int, counts *viewerCounts) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { watch(ctx, client, masterURL, i, counts) })
	}
	wg.Wait()
}

func watch(ctx context.Context, client *http.Client, masterURL string, i int, counts *viewerCounts) {
	body, ok := get(ctx, client, masterURL, &counts.master, counts)
	if !ok {
		return
	}
	variants, err := parseMasterPlaylist(string(body))
	if err != nil {
		counts.failed.Add(1)
		return
	}
	mediaURL := dirOf(masterURL) + variants[i%len(variants)]
	base := dirOf(mediaURL)
	next := int64(-1) // the sequence number of the next segment to fetch
	for {
		reload := time.Second
		if body, ok := get(ctx, client, mediaURL, &counts.playlists, counts); ok {
			p, err := parseMediaPlaylist(string(body))
			if err != nil {
				counts.failed.Add(1)
				return
			}
			last := p.Sequence + int64(len(p.Segments)) - 1
			if next < 0 {
				next = max(p.Sequence, last-liveEdgeSegments+1)
			}
			fresh := false
			for ; next <= last && next >= p.Sequence; next++ {
				get(ctx, client, base+p.Segments[next-p.Sequence], &counts.segments, counts)
				fresh = true
			}
			if p.Ended {
				return
			}
			reload = time.Duration(p.Target) * time.Second
			if !fresh {
				reload /= 2
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(reload):
		}
	}
}

// dirOf is url up to its last slash: what a playlist's relative URIs are
// relative to.
func dirOf(url string) string { return url[:strings.LastIndex(url, "/")+1] }

// get fetches url, reads its body to the end (so the connection is kept
// alive) and counts it in kind once answered; it returns the body of a 200.
func get(ctx context.Context, client *http.Client, url string, kind *atomic.Int64, counts *viewerCounts) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		counts.failed.Add(1)
		return nil, false
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			counts.failed.Add(1)
		}
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() == nil {
			counts.failed.Add(1)
		}
		return nil, false
	}
	kind.Add(1)
	if resp.StatusCode != http.StatusOK {
		counts.failed.Add(1)
		return nil, false
	}
	return body, true
}

// String says what the viewers asked, for the report.
func (c *viewerCounts) String() string {
	return fmt.Sprintf("%d master, %d media playlists, %d segments, %d failed",
		c.master.Load(), c.playlists.Load(), c.segments.Load(), c.failed.Load())
}
