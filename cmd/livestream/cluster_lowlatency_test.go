package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// llClusterConfig is llLadder as a config file for the binary.
const llClusterConfig = `transcode:
  segment_duration: 2s
  keyframe_interval: 1s
  playlist_window: 10
  ladder:
    - {name: 144p, width: 256, height: 144, video_bitrate: 200k, maxrate: 220k, bufsize: 400k, audio_bitrate: 64k}
    - {name: 180p, width: 320, height: 180, video_bitrate: 300k, maxrate: 330k, bufsize: 600k, audio_bitrate: 64k}
    - {name: 240p, width: 426, height: 240, video_bitrate: 400k, maxrate: 440k, bufsize: 800k, audio_bitrate: 64k}
`

// serverHLSRequests reads a server's counts of playlist and segment
// requests from origins.
func serverHLSRequests(t *testing.T, internal string) (playlists, segments int) {
	t.Helper()
	code, m := httpGet("http://" + internal + "/metrics")
	if code != http.StatusOK {
		t.Fatalf("server metrics: %d", code)
	}
	for _, line := range strings.Split(m, "\n") {
		for kind, n := range map[string]*int{"playlist": &playlists, "segment": &segments} {
			if v, ok := strings.CutPrefix(line, `livestream_server_hls_requests_total{kind="`+kind+`"} `); ok {
				f, _ := strconv.ParseFloat(v, 64)
				*n = int(f)
			}
		}
	}
	return playlists, segments
}

// TestClusterLowLatency: `livestream origin` in front of two servers,
// each transcoding one publish. hls.js plays the first in low-latency
// mode through the origin for 30 s, through every rendition, while
// GStreamer's playbin plays it without LL-HLS; the second stream answers
// blocking reloads through the origin as the servers do, and a crowd
// blocked on its next part costs its server one playlist request and one
// part request.
func TestClusterLowLatency(t *testing.T) {
	t.Parallel() // real processes; see TestClusterStreamMovesServers
	testenv.NeedTool(t, "ffmpeg")
	redisURL := "redis://" + testenv.StartRedis(t) + "/0"
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(llClusterConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	rtmp, internal := map[string]string{}, map[string]string{}
	for _, id := range []string{"server-a", "server-b"} {
		rtmp[id], internal[id] = testenv.FreeAddr(t), testenv.FreeAddr(t)
		startRole(t, bin, redisURL, id, internal[id], "server", "--config", config, "--rtmp-addr", rtmp[id],
			"--internal-http-addr", internal[id], "--advertise-addr", internal[id], "--server-id", id,
			"--data-dir", filepath.Join(dir, id), "--record=false", "--log-format", "json")
	}
	originAddr := testenv.FreeAddr(t)
	startRole(t, bin, redisURL, "origin", originAddr, "origin", "--http-addr", originAddr, "--record=false", "--log-format", "json")
	base := "http://" + originAddr
	reg, err := registry.OpenRedis(context.Background(), redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testenv.WaitFor(t, 10*time.Second, func() bool { s, err := reg.Servers(ctx); return err == nil && len(s) == 2 }, "both servers' heartbeats")

	a := keysJSON(t, "create", "watched", "--json", "--redis-url", redisURL)
	b := keysJSON(t, "create", "blocked on", "--json", "--redis-url", redisURL)
	// The watched stream lasts the playing; the other only the checks
	// on it, so that two ladders share the cores with the browser (and
	// the tests beside this one) no longer than they must.
	var pubs []*livePublish
	for id, k := range map[string]issued{"server-a": a, "server-b": b} {
		to := &server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: rtmp[id]}}}
		seconds := map[string]int{"server-a": 55, "server-b": 20}[id]
		pubs = append(pubs, launch(ctx, nil, 2*time.Minute, ffmpegPublisher(t, to, k.StreamKey, timingCase{fps: 30, seconds: seconds})))
	}
	defer func() {
		cancel()
		for _, p := range pubs {
			<-p.done
		}
	}()
	for _, k := range []issued{a, b} {
		testenv.WaitFor(t, 30*time.Second, func() bool {
			c, body := httpGet(base + "/hls/" + k.PlaybackID + "/180p/index.m3u8")
			return c == http.StatusOK && strings.Count(body, "#EXTINF") >= 2
		}, "two segments through the origin")
	}

	checkBlockingReload(t, base, b.PlaybackID)

	// A crowd blocked on the next part of 180p, asking as hls.js does
	// (the playlist, and the hinted part), costs server-b one request of
	// each.
	// A part nobody asked for yet: the one hinted after the hint that
	// checkBlockingReload fetched (the origin has that one cached).
	_, body := httpGet(base + "/hls/" + b.PlaybackID + "/180p/index.m3u8")
	first := hintTag.FindStringSubmatch(body)
	if first == nil {
		t.Fatalf("no preload hint:\n%s", body)
	}
	var hint []string
	testenv.WaitFor(t, 10*time.Second, func() bool {
		_, body := httpGet(base + "/hls/" + b.PlaybackID + "/180p/index.m3u8")
		hint = hintTag.FindStringSubmatch(body)
		return hint != nil && hint[0] != first[0]
	}, "the next preload hint")
	pl0, seg0 := serverHLSRequests(t, internal["server-b"])
	query := "/hls/" + b.PlaybackID + "/180p/index.m3u8?_HLS_msn=" + hint[1] + "&_HLS_part=" + hint[2]
	part := "/hls/" + b.PlaybackID + "/180p/" + hint[1] + "." + hint[2] + ".m4s"
	const crowd = 100
	var got sync.WaitGroup
	for i := range crowd {
		got.Go(func() {
			u := base + query
			if i%2 == 1 {
				u = base + part
			}
			if code, _ := httpGet(u); code != http.StatusOK {
				t.Errorf("viewer %d: %s: %d", i, u, code)
			}
		})
	}
	got.Wait()
	pl1, seg1 := serverHLSRequests(t, internal["server-b"])
	t.Logf("%d viewers blocked on part %s.%s: server-b answered %d playlist and %d part requests", crowd, hint[1], hint[2], pl1-pl0, seg1-seg0)
	if pl1-pl0 != 1 || seg1-seg0 != 1 {
		t.Errorf("%d viewers blocked on one part cost server-b %d playlist and %d part requests, want 1 and 1", crowd, pl1-pl0, seg1-seg0)
	}

	nonLL := playNonLL(ctx, t, base+"/hls/"+a.PlaybackID+"/live.m3u8", 25)
	playLowLatency(t, base, a.PlaybackID, 30)
	if err := <-nonLL; err != nil {
		t.Error(err)
	}
}
