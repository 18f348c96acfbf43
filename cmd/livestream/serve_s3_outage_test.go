package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/record"
)

// liveWatch polls a live media playlist the way a player does, and keeps
// every segment it saw listed, with its EXTINF duration.
type liveWatch struct {
	mu       sync.Mutex
	durs     map[int64]float64 // by segment number
	disc     bool              // a playlist held EXT-X-DISCONTINUITY
	ended    bool              // a playlist held EXT-X-ENDLIST
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// watchLive polls s's playlist at path every pollEvery until it ends or
// the watch is stopped. pollEvery is well under the playlist's window (4
// segments of 2 s), so no segment can slide out between two polls.
func watchLive(s *server, playlist string) *liveWatch {
	const pollEvery = 500 * time.Millisecond
	w := &liveWatch{durs: map[int64]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for {
			if code, pl := s.tryGet(playlist); code == 200 {
				w.add(pl)
			}
			if w.isEnded() {
				return
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *liveWatch) add(pl []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var dur float64
	for _, line := range strings.Split(string(pl), "\n") {
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			dur, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(line, "#EXTINF:"), ","), 64)
		case line == "#EXT-X-DISCONTINUITY":
			w.disc = true
		case line == "#EXT-X-ENDLIST":
			w.ended = true
		default:
			if seq, ok := segmentSeq(line); ok {
				w.durs[seq] = dur
			}
		}
	}
}

func (w *liveWatch) isEnded() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended
}

// last is the highest segment number seen; 0 before the first.
func (w *liveWatch) last() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for seq := range w.durs {
		n = max(n, seq)
	}
	return n
}

// close stops the polling and waits for it.
func (w *liveWatch) close() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// contiguous reports whether the numbers in seqs, sorted, follow each
// other with none missing.
func contiguous(seqs []int64) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return false
		}
	}
	return len(seqs) > 0
}

// TestServeRecordsThroughS3Outage: the S3 server dies in the middle of a
// 20-second publish and comes back about 8 s later (same port, same data).
// The live stream never waits for it: its HLS has no gap and its segment
// latency stays low. Meanwhile /vod/ answers 503, not 404. Once the
// publish ends, the recording completes: every segment is in the bucket,
// the same segments the live stream had, and the VOD playlist, served by
// the server's /vod/, has ENDLIST and plays in ffprobe for the publish's
// duration.
func TestServeRecordsThroughS3Outage(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	gw := startVersitygw(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	s := startServerWith(t, func(c *Config) {
		c.Serve.S3Bucket, c.Serve.S3Prefix, c.Serve.S3Endpoint, c.Serve.S3PathStyle, c.Serve.S3Region =
			s3Bucket, "rec", gw.endpoint, true, "us-east-1"
	})
	k := s.createChannel("recorded through an outage")
	const (
		seconds = 20
		// outageSegments is how many live segments the outage lasts: 8 s.
		outageSegments = 4
		// maxLatency bounds the live segment latency's p99: a stream
		// waiting for S3 would take seconds more.
		maxLatency = 2.0
	)
	pub := s.publish(k.StreamKey, seconds)
	livePlaylist := "/hls/" + k.PlaybackID + "/360p/index.m3u8"
	live := watchLive(s, livePlaylist)
	defer live.close()

	// Before the outage, the recording is in the bucket and served as it
	// grows through /vod/.
	var info struct {
		Recording *struct {
			Session, Playlist string
			Segments          int64
		} `json:"recording"`
		SegmentLatency struct {
			Count int     `json:"count"`
			P99   float64 `json:"p99_seconds"`
		} `json:"segment_latency"`
	}
	streamInfo := func() bool {
		code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
		return code == 200 && json.Unmarshal(body, &info) == nil && info.Recording != nil
	}
	testenv.WaitFor(t, 20*time.Second, streamInfo, "the stream's recording")
	vod := "/vod/" + info.Recording.Playlist
	testenv.WaitFor(t, 15*time.Second, func() bool {
		code, pl := s.tryGet(vod)
		return code == 200 && bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) && len(segmentSeqs(pl)) > 0
	}, "a segment in the EVENT playlist at /vod/")

	gw.kill()
	killedAt := time.Now()
	liveSegs := segmentSeqs(s.get(livePlaylist))
	if len(liveSegs) == 0 {
		t.Fatal("no segment in the live playlist when S3 went down")
	}
	lastBefore := liveSegs[len(liveSegs)-1]
	testenv.WaitFor(t, 5*time.Second, func() bool {
		code, _ := s.tryGet(vod)
		return code == 503
	}, "/vod/ answering 503 while S3 is down")
	testenv.WaitFor(t, 15*time.Second, func() bool { return live.last() >= lastBefore+outageSegments },
		"the live stream going on while S3 is down")
	if !streamInfo() || info.Recording.Segments == 0 {
		t.Fatalf("the stream's recording during the outage: %+v", info.Recording)
	}
	// The outage reached the recorder: uploads failed, segments wait in
	// the spool.
	metrics := s.get("/metrics")
	if !regexp.MustCompile(`(?m)^livestream_record_failed_attempts_total [1-9]`).Match(metrics) ||
		!regexp.MustCompile(`(?m)^livestream_record_spool_bytes [1-9]`).Match(metrics) {
		t.Errorf("recorder metrics during the outage show no failed upload or nothing spooled:\n%s", grepLines(metrics, "livestream_record_"))
	}
	gw.start()
	t.Logf("S3 down for %v, while the live stream cut segments %d to %d", time.Since(killedAt).Round(100*time.Millisecond), lastBefore+1, live.last())

	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	// The stream is in its grace period: its info still holds the latency
	// of all its segments.
	if !streamInfo() || info.SegmentLatency.Count < seconds/2-2 || info.SegmentLatency.P99 > maxLatency {
		t.Errorf("live segment latency: %d segments, p99 %.2f s; want %d or more, under %.1f s",
			info.SegmentLatency.Count, info.SegmentLatency.P99, seconds/2-2, maxLatency)
	}
	t.Logf("live segment latency over %d segments: p99 %.3f s", info.SegmentLatency.Count, info.SegmentLatency.P99)
	testenv.WaitFor(t, 10*time.Second, live.isEnded, "ENDLIST in the live playlist")
	live.close()

	// The live HLS had no gap.
	liveSeqs := make([]int64, 0, len(live.durs))
	var liveTotal float64
	for seq, d := range live.durs {
		liveSeqs = append(liveSeqs, seq)
		liveTotal += d
	}
	slices.Sort(liveSeqs)
	if !contiguous(liveSeqs) || live.disc || math.Abs(liveTotal-seconds) > 2.5 {
		t.Errorf("live HLS: segments %v (discontinuity %v), %.2f s; want contiguous, %d s ± a segment", liveSeqs, live.disc, liveTotal, seconds)
	}

	// The recording completes, with nothing lost.
	var list []Recording
	testenv.WaitFor(t, 20*time.Second, func() bool {
		list = s.recordings(k.ChannelID)
		return len(list) == 1 && list[0].State != record.StateRecording
	}, "the recording to end")
	r := list[0]
	if r.State != record.StateComplete || r.Dropped != 0 || r.URL != vod || r.Object != "s3://"+s3Bucket+"/rec/"+r.Playlist {
		t.Errorf("recording after the outage: %+v", r)
	}
	pl := s.get(vod)
	uris, total := vodPlaylist(t, pl)
	objs, err := testS3Backend(t, gw.endpoint).List(context.Background(), k.PlaybackID+"/"+r.ID+"/")
	if err != nil {
		t.Fatal(err)
	}
	inBucket := map[string]bool{}
	for _, o := range objs {
		inBucket[o.Name] = true
	}
	var vodSeqs []int64
	for _, u := range uris {
		if !inBucket[k.PlaybackID+"/"+u] {
			t.Errorf("segment %s listed but not in the bucket", u)
		}
		seq, _ := segmentSeq(u)
		vodSeqs = append(vodSeqs, seq)
	}
	if len(uris) != r.Segments || math.Abs(total-seconds) > 2.5 || !slices.Equal(vodSeqs, liveSeqs) {
		t.Errorf("VOD playlist: segments %v, %.2f s; the API says %d; want the live segments %v, %d s ± a segment",
			vodSeqs, total, r.Segments, liveSeqs, seconds)
	}
	if d := testenv.ProbeDuration(t, "http://"+s.cfg.Serve.HTTPAddr+vod); math.Abs(d-seconds) > 2.5 {
		t.Errorf("ffprobe plays the recording through /vod/ for %.2f s, want %d ± a segment", d, seconds)
	}

	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	s.mu.Lock()
	traffic := s.traffic.String()
	s.mu.Unlock()
	if logs := s.logs.String(); strings.Contains(logs, s3Secret) || strings.Contains(logs, k.StreamKey) || strings.Contains(traffic, k.StreamKey) {
		t.Error("the S3 secret or the stream key appears in a log line or an HTTP answer")
	}
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text []byte, prefix string) string {
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
