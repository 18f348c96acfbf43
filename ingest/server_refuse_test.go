package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// refusedPublish publishes key on app with the ffmpeg CLI and returns its
// output, failing the test if ffmpeg succeeded.
func refusedPublish(t *testing.T, h *harness, app, key string) string {
	t.Helper()
	out, err := ffmpeg(t, 20*time.Second, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "flv", h.url(app, key))
	if err == nil {
		t.Fatalf("ffmpeg published on app %q", app)
	}
	// FFmpeg prints the URL it was given; what the server said is its
	// "Server error" line.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Server error") {
			h.checkNoSecrets(line, "the status message")
		}
	}
	return out
}

func TestRefuseUnknownKey(t *testing.T) {
	h := newHarness(t, nil)
	out := refusedPublish(t, h, "stream", wrongKey)
	if !strings.Contains(out, "unauthorized") {
		t.Errorf("ffmpeg's error does not say why: %s", out)
	}
	if n := h.handler.publishes(); n != 0 {
		t.Errorf("Handler.Publish called %d times for an unknown key", n)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "refused publish: unknown or revoked stream key") || !strings.Contains(logs, "remote=127.0.0.1:") ||
		!strings.Contains(logs, "key_hash="+streamKey(wrongKey).hash()) {
		t.Errorf("the refusal is not logged with its reason, address and key hash:\n%s", logs)
	}
}

func TestRefuseMalformedKey(t *testing.T) {
	h := newHarness(t, nil)
	refusedPublish(t, h, "stream", strings.Repeat("k", maxKeyLen+1))
	if n := h.auth.lookups(); n != 0 {
		t.Errorf("a key of %d bytes was looked up", maxKeyLen+1)
	}
	if !strings.Contains(h.logs.String(), "malformed stream key") {
		t.Errorf("no malformed-key refusal in the logs:\n%s", h.logs.String())
	}
}

func TestRefuseWrongApp(t *testing.T) {
	h := newHarness(t, nil)
	refusedPublish(t, h, "live", keyAlpha)
	if n, m := h.auth.lookups(), h.handler.publishes(); n != 0 || m != 0 {
		t.Errorf("wrong app: %d lookups, %d publishes", n, m)
	}
	if !strings.Contains(h.logs.String(), "wrong app") {
		t.Errorf("no wrong-app refusal in the logs:\n%s", h.logs.String())
	}
}

// TestRefuseByHandler sends the Handler's reason to the publisher.
func TestRefuseByHandler(t *testing.T) {
	h := newHarness(t, nil)
	h.handler.set(errors.New("channel is already live"), nil)
	out := refusedPublish(t, h, "stream", keyAlpha)
	if !strings.Contains(out, "channel is already live") {
		t.Errorf("ffmpeg's error does not carry the Handler's: %s", out)
	}
}

// TestAuthUnavailable refuses without counting a failure against the
// publisher: the registry is down, the key may be fine.
func TestAuthUnavailable(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.AuthFailures.Free = 1 })
	h.auth.fail(errors.New("dial redis: connection refused"))
	for range 2 {
		out := refusedPublish(t, h, "stream", keyAlpha)
		if !strings.Contains(out, "authentication unavailable") {
			t.Errorf("ffmpeg's error: %s", out)
		}
	}
	if n := h.auth.lookups(); n != 2 {
		t.Errorf("%d lookups, want 2: registry errors are not failed authentications", n)
	}
}

// TestHEVCRefused publishes H.265 in FLV (codec id 12, as SRS and
// FFmpeg's forks send it; FFmpeg 5.1 cannot) with go-rtmp's client, and
// sees the publish end with ErrUnsupportedCodec.
func TestHEVCRefused(t *testing.T) {
	h := newHarness(t, nil)
	c := dialPublish(t, h.addr, keyAlpha)
	s := h.sink()
	if err := c.video(t, 0, []byte{0x1c, 0, 0, 0, 0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(t); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("End(%v), want ErrUnsupportedCodec", err)
	}
	if !strings.Contains(h.logs.String(), "unsupported codec") || !strings.Contains(h.logs.String(), "HEVC") {
		t.Errorf("the refusal is not logged:\n%s", h.logs.String())
	}
}

// TestPanicInSink ends only the publish whose Sink panicked.
func TestPanicInSink(t *testing.T) {
	h := newHarness(t, nil)
	h.handler.set(nil, func(s *testSink) {
		s.writeErr = func(n int) error {
			if n == 3 {
				panic("sink bug")
			}
			return nil
		}
	})
	src := source(t, testenv.SourceOptions{Audio: true})
	ffmpeg(t, 20*time.Second, "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha))
	if err := h.sink().wait(t); err == nil || !strings.Contains(err.Error(), "panic: sink bug") {
		t.Errorf("End(%v), want the panic", err)
	}
	h.handler.set(nil, nil)
	if out, err := ffmpeg(t, 20*time.Second, "-i", src, "-c", "copy", "-f", "flv", h.url("stream", keyAlpha)); err != nil {
		t.Fatalf("the next publish failed: %v\n%s", err, out)
	}
	if err := h.sink().wait(t); err != nil {
		t.Errorf("End(%v) after a panic in another publish", err)
	}
}
