package live

import (
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
)

// TestRelaysFollowTheNextPublishCodecs: a copy relay of an H.264 stream
// whose publisher comes back with HEVC (over SRT) becomes a skipped relay
// saying why, instead of sending HEVC as AVC; when an H.264 publisher comes
// back after that, it copies again.
func TestRelaysFollowTheNextPublishCodecs(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	avc := &media.VideoParams{Codec: media.H264, Width: 640, Height: 360,
		Extradata: []byte{1, 0x64, 0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1e, 1, 0, 2, 0x68, 0xee}}
	aac := &media.AudioParams{Codec: media.AAC, SampleRate: 48000, Channels: 2, Extradata: []byte{0x11, 0x90}}
	hevc := &media.VideoParams{Codec: media.HEVC, Width: 640, Height: 360}
	var rs relays
	rs.set([]destination{{id: "url:youtube", kind: "youtube", key: "yt-key", base: "rtmp://" + testenv.SilentListener(t) + "/app"}})
	rs.begin(RelayConfig{}, nil, avc, aac, testenv.Logger(t))
	defer rs.stop()
	skipped := func() bool {
		st := rs.status()
		if len(st) != 1 {
			t.Fatalf("%d relays, want 1", len(st))
		}
		return strings.Contains(st[0].LastError, "carries H.264 video only")
	}
	if skipped() {
		t.Fatal("the H.264 stream's copy relay is skipped")
	}
	rs.write(&media.Packet{Kind: media.Break, Params: &media.Params{Video: hevc, Audio: aac}})
	if !skipped() {
		t.Errorf("after an HEVC publisher took over, the copy relay's status is %+v", rs.status())
	}
	rs.write(&media.Packet{Kind: media.Break, Params: &media.Params{Video: avc, Audio: aac}})
	if skipped() {
		t.Errorf("after an H.264 publisher came back, the copy relay still says %q", rs.status()[0].LastError)
	}
}
