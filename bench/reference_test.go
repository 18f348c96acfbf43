package bench

import (
	"slices"
	"strings"
	"testing"

	"github.com/livestream/livestream/pipeline"
)

func TestReferenceLiveArgs(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	plan := pipeline.Plan(cfg.Ladder, 1280, 720)
	args := ReferenceLiveArgs("in.flv", "out", 60, cfg, plan, 60, true)
	line := strings.Join(args, " ")
	if !strings.Contains(line, "-re -stream_loop -1 -t 60 -i in.flv") {
		t.Errorf("input not read live: %s", line)
	}
	if slices.Contains(args, "-hls_playlist_type") || slices.Contains(args, "vod") {
		t.Errorf("still a VOD playlist: %s", line)
	}
	if n := strings.Count(line, "-rc-lookahead 3 -bf 0 -x264-params force-cfr=1 -c:v libx264"); n != len(plan) {
		t.Errorf("%d outputs with the live x264 settings, want %d: %s", n, len(plan), line)
	}
	if n := strings.Count(line, "-hls_list_size 10 -hls_flags delete_segments"); n != len(plan) {
		t.Errorf("%d live playlists, want %d", n, len(plan))
	}
}
