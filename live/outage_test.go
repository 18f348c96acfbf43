package live

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/relay"
)

var extinf = regexp.MustCompile(`#EXTINF:([0-9.]+),`)

// TestRelayOutagesLeaveTheStreamWhole: while a stream is live, its YouTube
// destination is killed and restarted, and its Facebook destination accepts
// TCP and never answers. The YouTube relay reconnects and carries on, the
// Facebook one keeps retrying, and the stream's HLS ladder has every
// second of the publish, without a gap or a discontinuity.
func TestRelayOutagesLeaveTheStreamWhole(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t)) // last: after the listeners' cleanups
	ng, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ng.Kill)
	const seconds = 10
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 640, Height: 360, FPS: 30, Seconds: seconds, Audio: true})
	video, audio, packets := readSource(t, src)

	cfg := testConfig(t)
	cfg.Relays.YouTube = "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	cfg.Relays.Facebook = "rtmp://" + testenv.SilentListener(t) + "/rtmp"
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(context.Background())
	const ytKey = "yt-outage-key"
	s, err := m.Publish(channel(1), "127.0.0.1:1", url.Values{"youtube": {ytKey}, "facebook": {"fb-silent-key"}})
	if err != nil {
		t.Fatal(err)
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		publishRealTime(t, s, video, audio, packets)
	}()
	relayOf := func(kind string) relay.Status {
		for _, r := range s.Stream().Info().Relays {
			if r.Kind == kind {
				return r
			}
		}
		return relay.Status{}
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { return relayOf("youtube").PacketsSent > 100 }, "the YouTube relay sending")
	ng.Kill()
	ng2, err := nginxrtmp.Start(nginxrtmp.Options{Dir: t.TempDir(), RecordDir: t.TempDir(), Addr: ng.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ng2.Kill)
	testenv.WaitFor(t, 30*time.Second, func() bool {
		r := relayOf("youtube")
		return r.Reconnects >= 1 && r.State == relay.Live
	}, "the YouTube relay back after its destination restarted")
	<-published

	if fb := relayOf("facebook"); fb.PacketsSent != 0 || fb.LastError == "" {
		t.Errorf("the silent Facebook destination: %+v", fb)
	}
	if err := ng2.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := testenv.ProbeDuration(t, ng2.Recording(ytKey)); d < 1 {
		t.Errorf("the restarted destination recorded %.1f s", d)
	}
	pl := string(get(t, s.Stream().store, "360p/index.m3u8"))
	var total float64
	for _, m := range extinf.FindAllStringSubmatch(pl, -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		total += d
	}
	seqs := segmentNumbers(t, []byte(pl))
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("segments %d and %d: a gap in the numbering", seqs[i-1], seqs[i])
		}
	}
	if regexp.MustCompile(`DISCONTINUITY`).MatchString(pl) || total < seconds-0.5 || total > seconds+0.5 {
		t.Errorf("the ladder has %.2f s of a %d s publish through two relay outages:\n%s", total, seconds, pl)
	}
}
