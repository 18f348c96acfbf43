package main

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestClusterRedisOutage is issue 12's outage: Redis killed for 6 s, longer
// than the route TTL (2 s) and every cache TTL of the origin (the master's
// 5 s at most), under a live stream watched through the origin. No viewer
// request fails and the media sequence keeps advancing (a new segment
// every 2 s), on the origin's
// stale route; Redis started again on the same port has the stream's
// route and the server's heartbeat again within seconds, and the origin's
// route is confirmed.
func TestClusterRedisOutage(t *testing.T) {
	const outage = 6 * time.Second
	c := startSmallCluster(t, clusterOptions{origin: true, routeTTL: 2 * time.Second, grace: 10 * time.Second})
	k := c.channel(t, "outage")
	c.publish(t, c.rtmp, k.StreamKey, 60)
	ctx := context.Background()
	v := watch(c.originURL, k.PlaybackID)
	defer v.close()
	testenv.WaitFor(t, 30*time.Second, func() bool {
		_, _, _, n := v.state()
		return n >= 1
	}, "the viewer to play a segment through the origin")
	before, failures, seqAtKill, segsAtKill := v.state()
	failuresBefore := len(failures)

	killed := time.Now()
	c.redis.Kill()
	select {
	case <-time.After(outage): // the outage under test
	case <-c.server.exited:
		t.Fatal("the server exited without Redis")
	case <-c.origin.exited:
		t.Fatal("the origin exited without Redis")
	}
	requests, failures, seq, segs := v.state()
	failures = failures[failuresBefore:]
	if len(failures) > 0 {
		t.Errorf("%d of %d viewer requests failed during the %v outage: %v", len(failures), requests-before, outage, failures)
	}
	if seq < seqAtKill+2 || segs < segsAtKill+2 {
		t.Errorf("newest segment %d after the outage, %d at its start, %d segments fetched: the stream did not advance through the origin",
			seq, seqAtKill, segs-segsAtKill)
	}
	if n := metric(t, c.originURL, "livestream_origin_stale_route_uses_total"); n == 0 {
		t.Error("the origin counted no fetch on a stale route: the outage did not outlast its route cache")
	}
	v.mu.Lock()
	slowest := v.slowest
	v.mu.Unlock()
	t.Logf("outage of %v: %d viewer requests, %d failed, the slowest answered in %v; newest segment %d → %d, %d segments fetched",
		time.Since(killed).Round(time.Millisecond), requests-before, len(failures), slowest.Round(time.Millisecond), seqAtKill, seq, segs-segsAtKill)

	c.redis.Start()
	restarted := time.Now()
	testenv.WaitFor(t, 5*time.Second, func() bool {
		r, err := c.reg.Route(ctx, k.PlaybackID)
		return err == nil && r.Server == "server-a" && !r.Ended
	}, "the stream's route in Redis again")
	routed := time.Since(restarted)
	testenv.WaitFor(t, 5*time.Second, func() bool {
		s, err := c.reg.Servers(ctx)
		return err == nil && len(s) == 1
	}, "the server's heartbeat in Redis again")
	beat := time.Since(restarted)
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return metric(t, c.originURL, "livestream_origin_stale_routes") == 0
	}, "the origin's route confirmed by Redis")
	t.Logf("Redis back: route set again after %v, heartbeat after %v, origin route confirmed after %v",
		routed.Round(time.Millisecond), beat.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	if routed > 3*time.Second {
		t.Errorf("the route came back %v after Redis, want within about a second", routed)
	}
	requests, failures, _, _ = v.state()
	if failures = failures[failuresBefore:]; len(failures) > 0 {
		t.Errorf("%d of %d viewer requests failed from the outage to now: %v", len(failures), requests-before, failures)
	}
	for _, msg := range []string{"live route set again", "heartbeat sent again"} {
		if !strings.Contains(c.server.logs.String(), msg) {
			t.Errorf("the server did not log %q", msg)
		}
	}
	if !strings.Contains(c.origin.logs.String(), "registry unreachable: streams already routed keep their last known server") {
		t.Error("the origin did not log that it used its stale routes")
	}
	c.checkNoSecrets(t, k)
}

// TestClusterPublishWithoutRedis: with Redis down, a channel that
// published through the proxy before publishes again (the proxy's last
// server list, the server's cache of keys) and is transcoded; a key this
// server never authenticated is refused, saying why; nothing logs a key.
func TestClusterPublishWithoutRedis(t *testing.T) {
	c := startSmallCluster(t, clusterOptions{proxy: true, routeTTL: 2 * time.Second, grace: 10 * time.Second})
	known, stranger := c.channel(t, "known"), c.channel(t, "stranger")
	accepted := func() int { return strings.Count(c.server.logs.String(), `"msg":"publish accepted"`) }
	if err := c.publish(t, c.proxyRTMP, known.StreamKey, 1).wait(t, 30*time.Second); err != nil || accepted() != 1 {
		t.Fatalf("publish with Redis up: %v; %d publishes accepted", err, accepted())
	}

	c.redis.Kill()
	start := time.Now()
	p := c.publish(t, c.proxyRTMP, known.StreamKey, 4)
	testenv.WaitFor(t, 20*time.Second, func() bool {
		code, body := httpGet("http://" + c.internal + "/hls/" + known.PlaybackID + "/360p/index.m3u8")
		return code == http.StatusOK && len(segments([]byte(body))) > 0 && !strings.Contains(body, "#EXT-X-ENDLIST")
	}, "the second publish transcoded, with Redis down")
	t.Logf("with Redis down, the known channel's first segment was listed %v after ffmpeg started", time.Since(start).Round(time.Millisecond))
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Errorf("publish of a known channel with Redis down: %v\n%s", err, p.stderr.String())
	}
	if accepted() != 2 || !strings.Contains(c.server.logs.String(), "stream key accepted on this server's word: the registry is unreachable") {
		t.Errorf("the server accepted %d publishes, want 2, the second on its cache of keys", accepted())
	}
	if !strings.Contains(c.proxy.logs.String(), "server list not read: publishes go to the last known servers") {
		t.Error("the proxy did not say it placed the publish on its last known servers")
	}

	start = time.Now()
	err := c.publish(t, c.proxyRTMP, stranger.StreamKey, 2).wait(t, 30*time.Second)
	t.Logf("with Redis down, ffmpeg gave up on the unknown key after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() == 0 {
		t.Errorf("publish of a key the server never authenticated, with Redis down: %v; want ffmpeg to fail", err)
	}
	const why = "registry unreachable, and this server has not authenticated the key within 10m0s"
	if !strings.Contains(c.server.logs.String(), why) {
		t.Errorf("the server's log does not say %q:\n%s", why, c.server.logs.String())
	}
	if accepted() != 2 {
		t.Errorf("%d publishes accepted, want 2", accepted())
	}
	c.checkNoSecrets(t, known, stranger)
}
