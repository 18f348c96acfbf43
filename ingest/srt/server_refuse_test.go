package srt

import (
	"crypto/rand"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"github.com/livestream/livestream/ingest"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// dial connects a gosrt caller with streamID, or returns the rejection.
func dial(t *testing.T, h *harness, streamID, passphrase string) (gosrt.Conn, error) {
	t.Helper()
	cfg := gosrt.DefaultConfig()
	cfg.StreamId, cfg.Passphrase = streamID, passphrase
	c, err := gosrt.Dial("srt", h.addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestRefusals: a wrong key, a reader (m=request), a stream id without a
// key and a missing or wrong passphrase are each refused in the SRT
// handshake, visibly to the caller, and no publish starts; the key check
// is RTMP's (its counters move).
func TestRefusals(t *testing.T) {
	const passphrase = "correct horse battery"
	h := newHarness(t, func(c *Config) { c.Passphrase = passphrase })
	for _, c := range []struct {
		name, streamID, passphrase string
		// wire is the handshake's rejection: 1000 + libsrt's reason,
		// and SRT_REJX_* = 1000 + the access-control code.
		wire uint64
	}{
		{"wrong key", "#!::r=stream/" + wrongKey + ",m=publish", passphrase, 2401},
		{"reader", "#!::r=stream/" + keyAlpha + ",m=request", passphrase, 2405},
		{"no key", "#!::m=publish", passphrase, 2400},
		{"no passphrase", keyAlpha, "", 0},
		{"wrong passphrase", keyAlpha, "wrong horse battery", 0},
	} {
		_, err := dial(t, h, c.streamID, c.passphrase)
		if err == nil {
			t.Errorf("%s: connected", c.name)
			continue
		}
		if c.wire != 0 && rejection(err) != c.wire {
			t.Errorf("%s: %v, want rejection %d", c.name, err, c.wire)
		}
	}
	if st := h.ing.Stats(); st.AuthFailures.UnknownKey != 1 || st.ActivePublishes != 0 {
		t.Errorf("ingest stats %+v: want one unknown key, no publish", st)
	}
	if st := h.srv.Stats(); st.Requests != 5 || st.Refused.Mode != 1 || st.Refused.StreamID != 1 || st.Refused.Passphrase != 2 {
		t.Errorf("SRT stats %+v: want 5 requests, refused: one mode, one stream id, two passphrases", st)
	}
	select {
	case s := <-h.sinks:
		t.Errorf("a refused caller reached the handler (%s)", s.ch.ID)
	default:
	}
	// The right passphrase gets in.
	if _, err := dial(t, h, keyAlpha, passphrase); err != nil {
		t.Fatalf("right key and passphrase: %v", err)
	}
	h.sink(5 * time.Second)
}

// rejection reads the code out of gosrt's "connection rejected: REJECT
// (N)" error, where gosrt prints N in base 32.
func rejection(err error) uint64 {
	_, n, ok := strings.Cut(err.Error(), "REJECT (")
	if !ok {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSuffix(n, ")"), 32, 32)
	return v
}

// TestFFmpegWrongKey: the ffmpeg CLI is refused, and says so.
func TestFFmpegWrongKey(t *testing.T) {
	h := newHarness(t, nil)
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 1, Audio: true, Format: "mpegts"})
	err := publishFFmpeg(t, src, h.url(wrongKey))()
	// libsrt names the code an "Application-defined rejection reason"
	// (1401 is beyond its own list), which says it came through.
	if err == nil || !strings.Contains(err.Error(), "Application-defined rejection reason") {
		t.Errorf("ffmpeg with a wrong key: %v, want a rejection", err)
	}
	if n := h.ing.Stats().AuthFailures.UnknownKey; n != 1 {
		t.Errorf("%d unknown keys counted, want 1", n)
	}
}

// TestGarbage: a publisher that sends bytes that are not MPEG-TS ends
// with ErrNotMPEGTS and a clear log line, while another publisher on the
// same server streams on unaffected.
func TestGarbage(t *testing.T) {
	h := newHarness(t, nil)
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 3, Audio: true, Format: "mpegts"})
	done := publishFFmpeg(t, src, h.url(keyBravo))
	good := h.sink(10 * time.Second)
	<-good.started

	c, err := dial(t, h, keyAlpha, "")
	if err != nil {
		t.Fatal(err)
	}
	bad := h.sink(5 * time.Second)
	junk := make([]byte, 1316)
	for range 20 {
		rand.Read(junk)
		junk[0] = 'G' + 1 // never a sync byte
		if _, err := c.Write(junk); err != nil {
			break
		}
	}
	if err := bad.wait(t, 10*time.Second); !errors.Is(err, ErrNotMPEGTS) {
		t.Errorf("garbage publish ended with %v, want ErrNotMPEGTS", err)
	}
	if !strings.Contains(h.logs.String(), "does not send MPEG-TS") || h.srv.Stats().NotMPEGTS != 1 {
		t.Errorf("no log line says the publisher does not send MPEG-TS, or not counted (%+v)", h.srv.Stats())
	}
	if err := good.wait(t, 20*time.Second); err != nil {
		t.Errorf("the other publish ended with %v", err)
	}
	if err := done(); err != nil {
		t.Errorf("ffmpeg: %v", err)
	}
	if n := good.count(media.Video); n < 84 {
		t.Errorf("the other publish wrote %d video packets, want ~90", n)
	}
}

// TestCodecChange: a publisher whose TS switches from H.264 to HEVC on the
// same PID mid-stream is ended with ErrParamsChanged (the ladder cannot
// follow), after the H.264 part went through.
func TestCodecChange(t *testing.T) {
	h := newHarness(t, nil)
	h264 := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Format: "mpegts"})
	hevc := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Format: "mpegts", VideoCodec: "libx265"})
	c, err := dial(t, h, keyAlpha, "")
	if err != nil {
		t.Fatal(err)
	}
	s := h.sink(5 * time.Second)
	for _, f := range []string{h264, hevc} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := min(len(b), 1316)
			if _, err := c.Write(b[:n]); err != nil {
				break
			}
			b = b[n:]
			time.Sleep(time.Millisecond) // gosrt's send queue drops what overflows it
		}
	}
	if err := s.wait(t, 15*time.Second); !errors.Is(err, ingest.ErrParamsChanged) {
		t.Errorf("publish ended with %v, want ErrParamsChanged", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.video == nil || s.video.Codec != media.H264 {
		t.Errorf("started with %+v, want H.264", s.video)
	}
}
