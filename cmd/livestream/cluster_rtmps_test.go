package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestClusterRTMPSThroughProxy: `livestream proxy --rtmps-addr` takes an
// RTMPS publish from the ffmpeg CLI (verifying the proxy's certificate),
// terminates TLS and passes plain RTMP with a PROXY header to the
// server, whose ladder plays; the server knows the publisher by its own
// address, and no role logs the key.
func TestClusterRTMPSThroughProxy(t *testing.T) {
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "proxy", certFile, keyFile)
	rtmps := testenv.FreeAddr(t)
	c := startSmallCluster(t, clusterOptions{proxy: true, proxyProtocol: true, routeTTL: 2 * time.Second, grace: 10 * time.Second,
		proxyArgs: []string{"--rtmps-addr", rtmps, "--tls-cert", certFile, "--tls-key", keyFile}})
	k := c.channel(t, "rtmps via proxy")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := &rtmpsServer{ca: ca}
	r.server = &server{t: t, cfg: Config{Serve: ServeConfig{DoorConfig: DoorConfig{RTMPSAddr: rtmps}}}}
	ff := r.ffmpegRTMPS(ctx, t, k.StreamKey, 8)
	var out strings.Builder
	ff.Stderr = &out
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ff.Wait() }()
	defer func() { cancel(); <-done }()

	internal := &server{t: t, cfg: Config{Serve: ServeConfig{HTTPAddr: c.internal}}}
	checkLadderPlays(t, internal, k.PlaybackID)
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("ffmpeg over RTMPS through the proxy: %v: %s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("ffmpeg still publishing after 60 s")
	}
	proxyLog, serverLog := c.proxy.logs.String(), c.server.logs.String()
	if !strings.Contains(proxyLog, `"tls":"TLS 1.3"`) || !strings.Contains(proxyLog, "publisher spliced") {
		t.Errorf("the proxy did not splice a TLS publisher:\n%s", proxyLog)
	}
	if !strings.Contains(serverLog, `"msg":"publish accepted"`) || strings.Contains(serverLog, `"tls":`) {
		t.Errorf("the server did not take a plain RTMP publish from the proxy:\n%s", serverLog)
	}
	c.checkNoSecrets(t, k)
}
