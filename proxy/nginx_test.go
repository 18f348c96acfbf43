package proxy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// startNginx starts an nginx-rtmp server that records every publish: the
// stand-in for a transcoding server. The test's cleanup kills it.
func startNginx(t *testing.T) *nginxrtmp.Server {
	t.Helper()
	testenv.NeedTool(t, "nginx")
	s, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir()})
	if errors.Is(err, nginxrtmp.ErrNotInstalled) && os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
		t.Skipf("%v (LIVESTREAM_ALLOW_SKIP=1)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// publish sends src in real time with the ffmpeg CLI to rtmp://addr/live/name.
func publish(ctx context.Context, t *testing.T, src, addr, name string) ([]byte, error) {
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	return exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-i", src, "-c", "copy", "-f", "flv",
		"rtmp://"+addr+"/"+nginxrtmp.Application+"/"+name).CombinedOutput()
}

// TestPublishThroughProxy publishes three streams at once with the ffmpeg
// CLI through three proxies in front of two nginx-rtmp servers: the least
// loaded first, the loads swapped, and the first server down. Each stream
// must arrive whole where it should, and nowhere else.
func TestPublishThroughProxy(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	const seconds = 4
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: seconds, Audio: true})
	a, b := startNginx(t), startNginx(t)
	infoA := registry.ServerInfo{ID: "a", RTMPAddr: a.Addr, CPU: 0.1}
	infoB := registry.ServerInfo{ID: "b", RTMPAddr: b.Addr, CPU: 0.5}
	down := registry.ServerInfo{ID: "down", RTMPAddr: closedAddr(t)}

	// The names stand for stream keys: the proxy must never log them.
	cases := []struct {
		name    string
		servers []registry.ServerInfo
		want    *nginxrtmp.Server
		other   *nginxrtmp.Server
	}{
		{"sk_least_loaded_SECRET1", []registry.ServerInfo{infoA, infoB}, a, b},
		{"sk_swapped_SECRET2", []registry.ServerInfo{{ID: "b", RTMPAddr: b.Addr, CPU: 0.1}, {ID: "a", RTMPAddr: a.Addr, CPU: 0.5}}, b, a},
		{"sk_fallback_SECRET3", []registry.ServerInfo{down, infoB}, b, a},
	}
	var logs testenv.LogBuffer
	proxies := make([]*Proxy, len(cases))
	addrs := make([]string, len(cases))
	for i, c := range cases {
		proxies[i], addrs[i] = startProxy(t, Config{Servers: fixedServers(c.servers...), Logger: logs.Logger()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			if out, err := publish(ctx, t, src, addrs[i], c.name); err != nil {
				t.Errorf("publish %s: %v\n%s", c.name, err, out)
			}
		})
	}
	wg.Wait()
	for i := range proxies {
		testenv.WaitFor(t, 5*time.Second, func() bool { return proxies[i].Stats().Active == 0 }, "the proxy's connections to end")
	}
	// nginx closes its recordings as it stops.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}

	for i, c := range cases {
		if d := testenv.ProbeDuration(t, c.want.Recording(c.name)); d < seconds-0.5 || d > seconds+0.5 {
			t.Errorf("%s: recorded %.2f s, want ≈ %d s", c.name, d, seconds)
		}
		if pr := testenv.Probe(t, c.want.Recording(c.name)); len(pr.Streams) != 2 {
			t.Errorf("%s: recorded %d streams, want video and audio", c.name, len(pr.Streams))
		}
		if _, err := os.Stat(c.other.Recording(c.name)); err == nil {
			t.Errorf("%s: recorded on the other server too", c.name)
		}
		st, err := os.Stat(c.want.Recording(c.name))
		if err != nil {
			t.Fatal(err)
		}
		// Every byte of the publish went through: RTMP's chunk headers
		// are a little smaller than the FLV tag headers nginx writes.
		s := proxies[i].Stats()
		if s.BytesIn < st.Size()*9/10 || s.BytesIn > st.Size()*11/10+64<<10 {
			t.Errorf("%s: %d bytes in through the proxy for a %d-byte recording", c.name, s.BytesIn, st.Size())
		}
		// The server's answers: connect's result, the publish status.
		if s.BytesOut < 100 {
			t.Errorf("%s: %d bytes out, too few for the server's answers", c.name, s.BytesOut)
		}
		if s.Conns != 1 || s.Refused != 0 {
			t.Errorf("%s: Stats = %+v, want one connection spliced", c.name, s)
		}
		if c.servers[0] == down && (s.DialFailures != 1 || s.Fallbacks != 1) {
			t.Errorf("%s: Stats = %+v, want 1 dial failure and 1 fallback", c.name, s)
		}
	}
	for _, c := range cases {
		if strings.Contains(logs.String(), c.name) || strings.Contains(logs.String(), "SECRET") {
			t.Errorf("the proxy logged a stream key:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), `server=b`) {
		t.Errorf("the log does not name the chosen server:\n%s", logs.String())
	}
}

// TestPublishRefusedWithoutServer: with every server down, the ffmpeg CLI
// fails promptly instead of waiting for its own timeout.
func TestPublishRefusedWithoutServer(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "down", RTMPAddr: closedAddr(t)})})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	out, err := publish(ctx, t, src, addr, "sk_SECRET")
	if err == nil {
		t.Fatalf("publish through a proxy without a server succeeded:\n%s", out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ffmpeg gave up after %v, want promptly", d)
	}
	if s := p.Stats(); s.Refused != 1 || s.DialFailures != 1 {
		t.Errorf("Stats = %+v, want 1 refused after 1 dial failure", s)
	}
}
