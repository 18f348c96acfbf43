package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/tlsfile"
)

// BenchmarkIngestCPU measures what one real-time publisher of a
// 6 Mbit/s 720p30 stream costs the ingest server, over RTMP and over
// RTMPS, in cores (CPU-seconds of this process per second of stream).
// The publisher is the ffmpeg CLI (-re -c copy) in its own process, so
// its CPU, TLS encryption included, is not counted; the Sink discards
// the packets, so what is counted is ingest's: reads, TLS decryption,
// RTMP chunks, FLV → media.Packet. Each iteration is one publish of
// INGEST_BENCH_SECONDS (default 20); bench/ingest_tls.sh runs both
// side by side, alternating, and prints medians.
func BenchmarkIngestCPU(b *testing.B) {
	seconds := 20
	if s, err := strconv.Atoi(os.Getenv("INGEST_BENCH_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	src := benchSource(b)
	ca := testenv.NewCA(b)
	dir := b.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(b, "bench", certFile, keyFile)
	cert, err := tlsfile.Load(certFile, keyFile, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	handler := &discardHandler{started: make(chan *discardSink, 1)}
	srv, err := NewServer(Config{
		Auth:    &testAuth{keys: map[string]registry.Channel{keyAlpha: {ID: "ch_bench", PlaybackID: "pb_bench"}}},
		Handler: handler, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(plain)
	go srv.ServeTLS(secure, tlsfile.ServerConfig(cert))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	for _, tc := range []struct{ name, url string }{
		{"rtmp", "rtmp://" + plain.Addr().String() + "/stream/" + keyAlpha},
		{"rtmps", "rtmps://" + secure.Addr().String() + "/stream/" + keyAlpha},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var cores, mbps float64
			n := 0
			for b.Loop() {
				c, m := publishMeasured(b, handler, src, tc.url, seconds)
				cores += c
				mbps += m
				n++
			}
			b.ReportMetric(cores/float64(n), "cores")
			b.ReportMetric(mbps/float64(n), "Mbit/s")
		})
	}
}

// publishMeasured publishes src to url in real time for seconds with
// the ffmpeg CLI and returns this process's CPU per second of the
// publish, from its start to its end as the Sink saw them, and the
// stream's bitrate.
func publishMeasured(b *testing.B, h *discardHandler, src, url string, seconds int) (cores, mbps float64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+30)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.NeedTool(b, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-stream_loop", "-1", "-i", src, "-t", strconv.Itoa(seconds), "-c", "copy", "-f", "flv", url)
	out := &lockedBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var s *discardSink
	select {
	case s = <-h.started:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("no publish started: %s", out.String())
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, out.String())
	}
	select {
	case <-s.ended:
	case <-time.After(10 * time.Second):
		b.Fatal("the publish did not end")
	}
	wall := s.endedAt.Sub(s.startedAt).Seconds()
	cpu := (s.endCPU - s.startCPU).Seconds()
	return cpu / wall, float64(s.bytes.Load()) * 8 / wall / 1e6
}

// benchSource is a 10 s 720p30 H.264 stream at 6 Mbit/s (constant: x264's
// CBR with temporal noise, so every second carries the bitrate) with AAC,
// made once per machine.
func benchSource(b *testing.B) string {
	dir := filepath.Join(os.TempDir(), "livestream-bench")
	path := filepath.Join(dir, "ingest-720p30-6M.flv")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp.flv"
	out, err := exec.Command(testenv.NeedTool(b, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=24:allf=t",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", "5800k", "-maxrate", "5800k", "-bufsize", "5800k",
		"-x264-params", "nal-hrd=cbr", "-g", "60", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "192k", "-f", "flv", tmp).CombinedOutput()
	if err != nil {
		b.Fatalf("make the bench source: %v: %s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// discardHandler hands out Sinks that count bytes and drop packets,
// noting this process's CPU time at their start and end.
type discardHandler struct{ started chan *discardSink }

func (h *discardHandler) Publish(context.Context, registry.Channel, PublishInfo) (Sink, error) {
	cpu, err := testenv.SelfCPU()
	if err != nil {
		return nil, err
	}
	s := &discardSink{done: make(chan struct{}), ended: make(chan struct{}), startedAt: time.Now(), startCPU: cpu}
	select {
	case h.started <- s:
	default:
		return nil, errors.New("a publish is already measured")
	}
	return s, nil
}

type discardSink struct {
	done, ended        chan struct{}
	bytes              atomic.Int64
	startedAt, endedAt time.Time
	startCPU, endCPU   time.Duration
}

func (s *discardSink) Start(*media.VideoParams, *media.AudioParams) error { return nil }
func (s *discardSink) WritePacket(p *media.Packet) error {
	s.bytes.Add(int64(len(p.Data)))
	return nil
}
func (s *discardSink) Done() <-chan struct{} { return s.done }
func (s *discardSink) End(error) {
	s.endCPU, _ = testenv.SelfCPU()
	s.endedAt = time.Now()
	close(s.ended)
}
