package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// TestClusterEndReachesOriginViewers: a publisher that ends cleanly
// leaves its viewers behind the origin the final playlist with
// EXT-X-ENDLIST (the route stays, marked ended), as a single server's do;
// a new publish of the channel during the grace takes the route at once
// and the origin serves its live playlist within a second or two; after
// its end and the grace, the origin answers 404.
func TestClusterEndReachesOriginViewers(t *testing.T) {
	t.Parallel() // real processes that mostly wait: two such tests share the 2 cores
	const grace = 3 * time.Second
	c := startSmallCluster(t, clusterOptions{origin: true, routeTTL: 2 * time.Second, grace: grace})
	k := c.channel(t, "ends")
	ctx := context.Background()
	playlist := c.originURL + "/hls/" + k.PlaybackID + "/360p/index.m3u8"

	// ended waits for the publisher's clean end, then for the origin to
	// serve the ended playlist, failing on any answer but 200 meanwhile,
	// and returns when it first did.
	ended := func(p *publisher, what string) time.Time {
		t.Helper()
		if err := p.wait(t, 30*time.Second); err != nil {
			t.Fatalf("%s: ffmpeg: %v\n%s", what, err, p.stderr.String())
		}
		var at time.Time
		testenv.WaitFor(t, 10*time.Second, func() bool {
			code, body := httpGet(playlist)
			if code != http.StatusOK {
				t.Fatalf("%s: the origin answered %d before the ended playlist", what, code)
			}
			at = time.Now()
			return strings.Contains(body, "#EXT-X-ENDLIST")
		}, what+": the ended playlist through the origin")
		if r, err := c.reg.Route(ctx, k.PlaybackID); err != nil || !r.Ended {
			t.Errorf("%s: route in Redis = %+v, %v; want it kept, ended", what, r, err)
		}
		if code, _ := httpGet(c.originURL + "/hls/" + k.PlaybackID + "/live.m3u8"); code != http.StatusOK {
			t.Errorf("%s: master through the origin: %d", what, code)
		}
		return at
	}
	playing := func(what string) {
		t.Helper()
		testenv.WaitFor(t, 30*time.Second, func() bool {
			code, body := httpGet(playlist)
			return code == http.StatusOK && len(segments([]byte(body))) > 0 && !strings.Contains(body, "#EXT-X-ENDLIST")
		}, what)
	}

	p := c.publish(t, c.rtmp, k.StreamKey, 3)
	playing("the first publish live through the origin")
	ended(p, "first publish")

	// Published again within the grace: the origin leaves the ended
	// playlist for the new live one within its caches' TTLs.
	p = c.publish(t, c.rtmp, k.StreamKey, 3)
	testenv.WaitFor(t, 30*time.Second, func() bool {
		r, err := c.reg.Route(ctx, k.PlaybackID)
		return err == nil && !r.Ended
	}, "the new publish's live route")
	routed := time.Now()
	playing("the second publish live through the origin")
	if d := time.Since(routed); d > 2*time.Second {
		t.Errorf("the origin served the ended playlist %v after the new stream's route, want within 2 s", d)
	}

	endSeen := ended(p, "second publish")
	testenv.WaitFor(t, grace+5*time.Second, func() bool {
		code, body := httpGet(playlist)
		if code == http.StatusOK && !strings.Contains(body, "#EXT-X-ENDLIST") {
			t.Fatalf("the origin served a live playlist after the end:\n%s", body)
		}
		return code == http.StatusNotFound
	}, "404 through the origin after the grace")
	if d := time.Since(endSeen); d < grace-time.Second {
		t.Errorf("404 %v after the ended playlist was served, before the %v grace", d, grace)
	}
	if _, err := c.reg.Route(ctx, k.PlaybackID); !errors.Is(err, registry.ErrNoRoute) {
		t.Errorf("route after the grace: %v, want ErrNoRoute", err)
	}
	c.checkNoSecrets(t, k)
}
