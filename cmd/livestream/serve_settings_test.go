package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// TestServeKeepOnUnpublish: a channel given keep_on_unpublish with the
// CLI while serve runs keeps its stream live, away, after ffmpeg's clean
// unpublish; its next publish continues the same stream.
func TestServeKeepOnUnpublish(t *testing.T) {
	s := startServer(t)
	k := s.createChannel("keeps")
	if code, _, stderr := runCLI(t, "keys", "settings", k.ChannelID, "--keep-on-unpublish", "--data-dir", s.cfg.Serve.DataDir); code != 0 {
		t.Fatalf("keys settings: exit %d: %s", code, stderr)
	}
	type state struct {
		Live       bool      `json:"live"`
		Publisher  string    `json:"publisher"`
		StartedAt  time.Time `json:"started_at"`
		Reconnects int64     `json:"reconnects"`
	}
	stream := func() (st state) {
		if code, body := s.admin("GET", "/api/streams/"+k.PlaybackID); code == 200 {
			json.Unmarshal(body, &st)
		}
		return st
	}

	if err := s.publish(k.StreamKey, 3).wait(t, 30*time.Second); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, func() bool { return stream().Publisher == "away" }, "the stream away after a clean unpublish")
	first := stream()
	if !first.Live {
		t.Fatalf("after the unpublish: %+v, want live", first)
	}

	p := s.publish(k.StreamKey, 3)
	testenv.WaitFor(t, 20*time.Second, func() bool { return stream().Reconnects == 1 }, "the next publish to continue the stream")
	if st := stream(); !st.StartedAt.Equal(first.StartedAt) || !st.Live {
		t.Errorf("after the second publish: %+v, want the stream of %v continued", st, first.StartedAt)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
}
