package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// rtmpsServer is a serve with RTMPS on, its certificate from a test CA.
type rtmpsServer struct {
	*server
	ca                *testenv.CA
	certFile, keyFile string
}

func startRTMPSServer(t *testing.T) *rtmpsServer {
	t.Helper()
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	r := &rtmpsServer{ca: ca, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	ca.Issue(t, "first", r.certFile, r.keyFile)
	r.server = startServerWith(t, func(c *Config) {
		c.Serve.RTMPSAddr = testenv.FreeAddr(t)
		c.Serve.TLSCert, c.Serve.TLSKey = r.certFile, r.keyFile
	})
	return r
}

// rtmpsURL is the publish URL of key over RTMPS.
func (r *rtmpsServer) rtmpsURL(key string) string {
	return "rtmps://" + r.cfg.Serve.RTMPSAddr + "/stream/" + key
}

// servedCertificate is the common name of the certificate a new TLS
// handshake with the RTMPS listener gets, verified against the test CA.
func (r *rtmpsServer) servedCertificate() (string, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: r.ca.Pool, ServerName: "127.0.0.1"}}
	c, err := d.Dial("tcp", r.cfg.Serve.RTMPSAddr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// ffmpegRTMPS publishes a test pattern in real time with the ffmpeg CLI
// over RTMPS, verifying the server's certificate against the test CA
// (ffmpeg passes -tls_verify and -ca_file to its TLS layer for rtmps://).
func (r *rtmpsServer) ffmpegRTMPS(ctx context.Context, t *testing.T, key string, seconds int) *exec.Cmd {
	t.Helper()
	return exec.CommandContext(ctx, testenv.NeedTool(t, "ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2", "-tls_verify", "1", "-ca_file", r.ca.File, "-f", "flv", r.rtmpsURL(key))
}

// checkLadderPlays waits for the stream's playlists and probes the master
// as a player would: H.264 and AAC.
func checkLadderPlays(t *testing.T, s *server, playbackID string) {
	t.Helper()
	hls := "/hls/" + playbackID
	testenv.WaitFor(t, 30*time.Second, func() bool {
		_, pl := s.tryGet(hls + "/360p/index.m3u8")
		return len(segments(pl)) >= 1
	}, "a segment of "+playbackID)
	pr := testenv.Probe(t, "http://"+s.cfg.Serve.HTTPAddr+hls+"/live.m3u8")
	var video, audio bool
	for _, st := range pr.Streams {
		video = video || st.CodecType == "video" && st.CodecName == "h264" && st.Height == 360
		audio = audio || st.CodecType == "audio" && st.CodecName == "aac"
	}
	if !video || !audio {
		t.Errorf("%s: the ladder's streams are %+v, want 360p H.264 and AAC", playbackID, pr.Streams)
	}
}

// TestServeRTMPS: serve with --rtmps-addr takes the ffmpeg CLI and
// GStreamer's rtmp2sink over RTMPS, and the ladder of each plays; RTMP
// goes on beside it. A renewed certificate written over the files is
// served from the next handshake after the check interval, without a
// restart; a bad pair written then keeps it in service.
func TestServeRTMPS(t *testing.T) {
	s := startRTMPSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, b := s.createChannel("rtmps ffmpeg"), s.createChannel("rtmps gstreamer")

	ff := s.ffmpegRTMPS(ctx, t, a.StreamKey, 12)
	var ffOut strings.Builder
	ff.Stderr = &ffOut
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	ffDone := make(chan error, 1)
	go func() { ffDone <- ff.Wait() }()

	// GStreamer's TLS (glib-networking) trusts the system's CAs, not a
	// file we can name, so rtmp2sink is told to accept an unknown CA
	// (tls-validation-flags without unknown-ca): the name and dates of
	// the certificate are still checked.
	gst := exec.CommandContext(ctx, testenv.NeedTool(t, "gst-launch-1.0"), append([]string{"-q"}, strings.Fields(
		"videotestsrc is-live=true num-buffers=360 ! video/x-raw,width=640,height=360,framerate=30/1"+
			" ! x264enc speed-preset=veryfast key-int-max=30 tune=zerolatency ! h264parse ! flvmux name=mux streamable=true"+
			" ! rtmp2sink tls-validation-flags=bad-identity+not-activated+expired+revoked+insecure+generic-error location="+s.rtmpsURL(b.StreamKey)+
			" audiotestsrc is-live=true num-buffers=517 ! audioconvert ! voaacenc ! aacparse ! mux.")...)...)
	var gstOut strings.Builder
	gst.Stdout, gst.Stderr = &gstOut, &gstOut
	if err := gst.Start(); err != nil {
		t.Fatal(err)
	}
	gstDone := make(chan error, 1)
	go func() { gstDone <- gst.Wait() }()
	defer func() {
		cancel()
		<-ffDone
		<-gstDone
	}()

	checkLadderPlays(t, s.server, a.PlaybackID)
	checkLadderPlays(t, s.server, b.PlaybackID)
	logs := s.logs.String()
	if n := strings.Count(logs, `"tls":"TLS 1.3"`) + strings.Count(logs, `tls="TLS 1.3"`); n < 2 {
		t.Errorf("the two publishes are not logged as TLS:\n%s", logs)
	}
	for _, k := range []string{a.StreamKey, b.StreamKey} {
		if strings.Contains(logs, k) {
			t.Error("a stream key is in the log")
		}
	}

	// A renewal, written over the files as certbot does.
	if cn, err := s.servedCertificate(); err != nil || cn != "first" {
		t.Fatalf("serving %q (%v), want first", cn, err)
	}
	renewed := time.Now()
	s.ca.Issue(t, "renewed", s.certFile, s.keyFile)
	testenv.WaitFor(t, 20*time.Second, func() bool { cn, _ := s.servedCertificate(); return cn == "renewed" }, "the renewed certificate served")
	t.Logf("renewal served %v after the files changed", time.Since(renewed).Round(time.Millisecond))
	select {
	case err := <-ffDone:
		ffDone <- err
		t.Errorf("ffmpeg's publish ended during the renewal: %v: %s", err, ffOut.String())
	default:
	}

	// A bad pair (a key that does not match) keeps the renewed one.
	s.ca.Issue(t, "mismatched", s.certFile, filepath.Join(t.TempDir(), "other-key.pem"))
	// The files are looked at on a handshake, at most every 5 s.
	testenv.WaitFor(t, 20*time.Second, func() bool {
		s.servedCertificate()
		return strings.Contains(s.logs.String(), "TLS certificate not reloaded")
	}, "the bad pair logged")
	if cn, err := s.servedCertificate(); err != nil || cn != "renewed" {
		t.Errorf("after a bad pair: serving %q (%v), want renewed", cn, err)
	}

	if err := <-ffDone; err != nil {
		t.Errorf("ffmpeg over RTMPS: %v: %s", err, ffOut.String())
	}
	ffDone <- nil
	if err := <-gstDone; err != nil {
		t.Errorf("rtmp2sink over RTMPS: %v: %s", err, gstOut.String())
	}
	gstDone <- nil

	// Plain RTMP goes on beside it, and a publish after the renewal
	// verifies the new certificate.
	if err := s.publish(a.StreamKey, 2).wait(t, 30*time.Second); err != nil {
		t.Errorf("RTMP beside RTMPS: %v", err)
	}
	if out, err := s.ffmpegRTMPS(ctx, t, b.StreamKey, 2).CombinedOutput(); err != nil {
		t.Errorf("ffmpeg over RTMPS after the renewal: %v: %s", err, out)
	}
	metrics := s.get("/metrics")
	if v, _ := metricValue(metrics, `livestream_ingest_refused_connections_total{reason="tls_handshake"}`); v != 0 {
		t.Errorf("%v TLS handshakes refused, want none", v)
	}
}
