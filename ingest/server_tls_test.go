package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/tlsfile"
	rtmp "github.com/yutopp/go-rtmp"
)

// rtmps is an RTMPS listener of a harness's server, with the test CA its
// certificate comes from.
type rtmps struct {
	addr string
	ca   *testenv.CA
	cert *tlsfile.Certificate
}

// serveTLS serves RTMPS on a second listener of h's server, with a
// certificate for 127.0.0.1 issued by a test CA.
func (h *harness) serveTLS(t *testing.T) *rtmps {
	t.Helper()
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, "ingest test", certFile, keyFile)
	cert, err := tlsfile.Load(certFile, keyFile, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l := mustListen(t)
	served := make(chan error, 1)
	go func() { served <- h.srv.ServeTLS(l, tlsfile.ServerConfig(cert)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.srv.Shutdown(ctx) // the harness's cleanup, which runs after this one, shuts down too
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServeTLS returned %v, want ErrServerClosed", err)
		}
	})
	return &rtmps{addr: l.Addr().String(), ca: ca, cert: cert}
}

// publishTLS publishes key over RTMPS with go-rtmp's client, trusting the
// test CA.
func (r *rtmps) publishTLS(t *testing.T, key string) *rtmp.ClientConn {
	t.Helper()
	cc, err := rtmp.TLSDial("rtmps", r.addr, &rtmp.ConnConfig{Logger: quietLogger()}, &tls.Config{RootCAs: r.ca.Pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return publishOn(t, cc, key).cc
}

// TestRTMPSPublishFFmpeg publishes with the ffmpeg CLI over RTMPS,
// verifying the server's certificate against the test CA, on the same
// server that serves plain RTMP: both reach the Handler with their media.
func TestRTMPSPublishFFmpeg(t *testing.T) {
	h := newHarness(t, nil)
	r := h.serveTLS(t)
	src := source(t, testenv.SourceOptions{Audio: true})
	url := "rtmps://" + r.addr + "/stream/" + keyAlpha
	if out, err := ffmpeg(t, 30*time.Second, "-i", src, "-c", "copy", "-tls_verify", "1", "-ca_file", r.ca.File, "-f", "flv", url); err != nil {
		t.Fatalf("ffmpeg over RTMPS: %v\n%s", err, out)
	}
	s := h.sink()
	if err := s.wait(t); err != nil {
		t.Errorf("End(%v) after ffmpeg's RTMPS publish", err)
	}
	if v, a, pkts := s.received(); v == nil || a == nil || len(pkts) < 30 {
		t.Errorf("over RTMPS: video %v, audio %v, %d packets", v, a, len(pkts))
	}
	if !strings.Contains(h.logs.String(), `tls="TLS 1.3"`) {
		t.Errorf("the publish is not logged as TLS:\n%s", h.logs.String())
	}

	// ffmpeg honours -tls_verify for rtmps: a CA it does not know fails
	// the handshake (so the success above did verify).
	other := testenv.NewCA(t)
	if out, err := ffmpeg(t, 30*time.Second, "-i", src, "-c", "copy", "-tls_verify", "1", "-ca_file", other.File, "-f", "flv", url); err == nil {
		t.Errorf("ffmpeg published over RTMPS trusting another CA:\n%s", out)
	}
	if n := h.handler.publishes(); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
}

// TestRTMPSHandshakeDeadline: a peer that opens a TCP connection to the
// RTMPS port and sends nothing, and one that sends half a ClientHello,
// are closed at HandshakeTimeout (not before, not forever), while a
// publisher alongside publishes; both are counted, in one log line.
func TestRTMPSHandshakeDeadline(t *testing.T) {
	const timeout = time.Second
	h := newHarness(t, func(c *Config) { c.HandshakeTimeout = timeout })
	r := h.serveTLS(t)

	silent, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	half, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	hello := testenv.ClientHello(t)
	if _, err := half.Write(hello[:len(hello)/2]); err != nil {
		t.Fatal(err)
	}
	opened := time.Now()

	cc := r.publishTLS(t, keyAlpha)
	s := h.sink()
	cc.Close()
	if err := s.wait(t); !errors.Is(err, ErrDisconnected) {
		t.Errorf("the publish alongside ended with %v", err)
	}

	for name, c := range map[string]net.Conn{"silent": silent, "half a ClientHello": half} {
		closedWithin(t, c, 10*time.Second)
		if took := time.Since(opened); took < timeout-100*time.Millisecond {
			t.Errorf("%s: closed after %v, before the %v deadline", name, took, timeout)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.srv.Stats().Refused.TLSHandshake == 2 }, "both handshakes counted")
	if n := countLines(h.logs.String(), "TLS handshake failed or did not finish"); n != 1 {
		t.Errorf("%d log lines for the two failed handshakes, want 1:\n%s", n, h.logs.String())
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.openConns() == 0 }, "every slot released")
}

// TestRTMPSRefusesPlainRTMP: plain RTMP on the RTMPS port is closed at
// once and counted; an idle TCP health check (connect, close) is not.
func TestRTMPSRefusesPlainRTMP(t *testing.T) {
	h := newHarness(t, slowTimeouts)
	r := h.serveTLS(t)
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	handshakeClient(c) // fails: the server answers with a TLS alert
	closedWithin(t, c, 2*time.Second)
	hc, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	hc.Close()
	testenv.WaitFor(t, 5*time.Second, func() bool { return h.openConns() == 0 && h.srv.Stats().Connections == 2 }, "both connections closed")
	if st := h.srv.Stats(); st.Refused.TLSHandshake != 1 {
		t.Errorf("Refused.TLSHandshake = %d, want 1 (the health check is not one)", st.Refused.TLSHandshake)
	}
}
