package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// viewer results, collected by every viewer goroutine.
type viewerStats struct {
	mu sync.Mutex
	// lag is, for each playlist answer, how long after the edge listed
	// the part the viewer had the playlist.
	lag      []time.Duration
	failures []string

	playlists, parts atomic.Int64
	bytes            atomic.Int64
}

func (s *viewerStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// advanced is when the edge listed each part, by rendition and position.
type advanced struct {
	mu sync.Mutex
	at map[string]time.Time
}

func partKey(rendition string, p hlsmux.Position) string {
	return fmt.Sprintf("%s/%d.%d", rendition, p.MSN, p.Part)
}

func (a *advanced) set(key string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[key] = t
}

func (a *advanced) get(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[key]
	return t, ok
}

// watch is one viewer of rendition as an LL-HLS player at the live edge
// plays it (hls.js in lowLatencyMode): for each of the next parts parts
// after from, a blocking delta request for the playlist that lists it
// and, at the same time, the part its preload hint named.
func watch(ctx context.Context, client *http.Client, base, rendition string, from hlsmux.Position, parts int, edge *advanced, st *viewerStats) {
	p := from
	for range parts {
		p = next(p)
		var wg sync.WaitGroup
		wg.Go(func() {
			url := fmt.Sprintf("%s/%s/index.m3u8?_HLS_msn=%d&_HLS_part=%d&_HLS_skip=YES", base, rendition, p.MSN, p.Part)
			if _, ok := fetch(ctx, client, url, st); !ok {
				return
			}
			st.playlists.Add(1)
			if at, ok := edge.get(partKey(rendition, p)); ok {
				st.mu.Lock()
				st.lag = append(st.lag, max(time.Since(at), 0))
				st.mu.Unlock()
			}
		})
		wg.Go(func() {
			n, ok := fetch(ctx, client, fmt.Sprintf("%s/%s/%d.%d.m4s", base, rendition, p.MSN, p.Part), st)
			if ok {
				st.parts.Add(1)
				st.bytes.Add(n)
			}
		})
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
	}
}

// fetch GETs url and reads the body; ok is a 200 read to its end.
func fetch(ctx context.Context, client *http.Client, url string, st *viewerStats) (int64, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		st.fail("%s: %v", url, err)
		return 0, false
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			st.fail("%s: %v", url, err)
		}
		return 0, false
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		st.fail("%s: status %d, %v", url, resp.StatusCode, err)
		return n, false
	}
	return n, true
}

// upstreamCounter counts the requests the upstream gets, by path and
// query.
type upstreamCounter struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func (u *upstreamCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.n[r.URL.RequestURI()]++
	u.mu.Unlock()
	u.h.ServeHTTP(w, r)
}

func (u *upstreamCounter) count(target string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n[target]
}

func (u *upstreamCounter) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	t := 0
	for _, n := range u.n {
		t += n
	}
	return t
}
