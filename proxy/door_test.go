package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
	"github.com/livestream/livestream/tlsfile"
)

// startTLSProxy is startProxy serving RTMPS, with a certificate for
// 127.0.0.1 from a test CA.
func startTLSProxy(t *testing.T, cfg Config) (*Proxy, string, *testenv.CA) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "proxy test", certFile, keyFile)
	cert, err := tlsfile.Load(certFile, keyFile, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p := New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.ServeTLS(l, tlsfile.ServerConfig(cert)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServeTLS returned %v", err)
		}
	})
	return p, l.Addr().String(), ca
}

// TestRTMPSThroughProxy: ffmpeg publishes over RTMPS to the proxy, which
// terminates TLS and passes plain RTMP, with the publisher's address in a
// PROXY header, to a real ingest server, which gets the media.
func TestRTMPSThroughProxy(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	s := startServer(t, false, true)
	var logs testenv.LogBuffer
	p, addr, ca := startTLSProxy(t, Config{Servers: fixedServers(s.info("a")), ProxyProtocol: true, Logger: logs.Logger()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testenv.NeedTool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-i", src, "-c", "copy", "-tls_verify", "1", "-ca_file", ca.File, "-f", "flv",
		"rtmps://"+addr+"/"+nginxrtmp.Application+"/"+goodKey).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg over RTMPS through the proxy: %v\n%s", err, out)
	}
	remote := <-s.started
	if !strings.HasPrefix(remote, "127.0.0.1:") || !strings.Contains(logs.String(), "remote="+remote) {
		t.Errorf("the server saw the publisher at %s; the proxy's log names another:\n%s", remote, logs.String())
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return s.packets.Load() >= 30 }, "the media at the server")
	if !strings.Contains(logs.String(), `tls="TLS 1.3"`) {
		t.Errorf("the publisher's TLS is not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), goodKey) {
		t.Error("the stream key is in the proxy's log")
	}
	if st := p.Stats(); st.Refused != 0 || st.TLSHandshakes != 0 {
		t.Errorf("Stats %+v: refusals", st)
	}
}

// TestProxyTLSHandshakeDeadline: a peer that sends half a ClientHello to
// the proxy's RTMPS port is closed at the handshake timeout, dials no
// server, and does not hold a publish alongside.
func TestProxyTLSHandshakeDeadline(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	s := startServer(t, false, false)
	p, addr, ca := startTLSProxy(t, Config{Servers: fixedServers(s.info("a"))})
	half, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	hello := testenv.ClientHello(t)
	if _, err := half.Write(hello[:len(hello)/2]); err != nil {
		t.Fatal(err)
	}
	opened := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testenv.NeedTool(t, "ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-i", src, "-c", "copy", "-tls_verify", "1", "-ca_file", ca.File, "-f", "flv",
		"rtmps://"+addr+"/"+nginxrtmp.Application+"/"+goodKey).CombinedOutput()
	if err != nil {
		t.Fatalf("the publish alongside: %v\n%s", err, out)
	}
	<-s.started

	half.SetReadDeadline(time.Now().Add(handshakeTimeout + 5*time.Second))
	if _, err := io.ReadAll(half); err != nil {
		t.Fatalf("the half handshake: %v, want closed by the proxy", err)
	}
	if took := time.Since(opened); took < handshakeTimeout-time.Second {
		t.Errorf("the half handshake was closed after %v, before the %v deadline", took, handshakeTimeout)
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().TLSHandshakes == 1 }, "the handshake counted")
	if n := s.publish.Load(); n != 1 {
		t.Errorf("%d publishes reached the server, want 1", n)
	}
}

// TestProxyConnsPerAddr: one address holding MaxConnsPerAddr connections
// has the next closed at once, counted and logged once; another address
// is served; a closed connection frees its slot.
func TestProxyConnsPerAddr(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	var logs testenv.LogBuffer
	p, addr := startProxy(t, Config{Servers: fixedServers(registry.ServerInfo{ID: "a", RTMPAddr: silentServer(t)}),
		MaxConnsPerAddr: 2, Logger: logs.Logger()})
	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first, _ := dial("127.0.0.1"), dial("127.0.0.1")
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 2 }, "two connections tracked")
	for range 3 {
		if err := refusedAt(addr, "127.0.0.1"); err != nil {
			t.Errorf("a third connection from one address: %v", err)
		}
	}
	dial("127.0.0.2")
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 3 }, "another address's connection tracked")
	first.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 2 }, "the closed one untracked")
	dial("127.0.0.1")
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 3 }, "the address's slot reused")
	if st := p.Stats(); st.RefusedPerAddr != 3 {
		t.Errorf("Stats %+v, want 3 refused per address", st)
	}
	if n := strings.Count(logs.String(), "max_conns_per_addr open from this address"); n != 1 {
		t.Errorf("%d log lines for 3 refusals, want 1:\n%s", n, logs.String())
	}
}

// refusedAt dials addr from src and reports an error unless the proxy
// refuses the connection: closed with a reset (seen at the dial or the
// first read) or, as when it is closing, an end of file.
func refusedAt(addr, src string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read %v, want a reset", err)
	}
	return nil
}
