package origin

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// mediaPlaylist is what hlsmux writes for a live rendition with target
// duration target and one segment.
func mediaPlaylist(target time.Duration) []byte {
	pl := &hlsmux.MediaPlaylist{Type: hlsmux.Live, TargetDuration: target}
	pl.Append(hlsmux.SegmentInfo{Seq: fixtureFirstSeq, Name: seg0 + ".ts", Duration: target, Size: 1000})
	return pl.Encode()
}

// playlistTTLCases drive TestPlaylistTTL and seed FuzzPlaylistTTL.
var playlistTTLCases = []struct {
	name     string
	playlist []byte
	ttl      time.Duration
}{
	{"hlsmux, 1 s target", mediaPlaylist(time.Second), 500 * time.Millisecond},
	{"hlsmux, 2 s target", mediaPlaylist(2 * time.Second), time.Second},
	{"hlsmux, 6 s target", mediaPlaylist(6 * time.Second), time.Second},
	{"hlsmux, 1.5 s rounds up to 2", mediaPlaylist(1500 * time.Millisecond), time.Second},
	{"CRLF", []byte("#EXTM3U\r\n#EXT-X-TARGETDURATION:1\r\n"), 500 * time.Millisecond},
	{"last line, no newline", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1"), 500 * time.Millisecond},
	{"no target", []byte("#EXTM3U\n#EXTINF:1.000,\n0.ts\n"), time.Second},
	{"empty", nil, time.Second},
	{"zero", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:0\n"), time.Second},
	{"empty value", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:\n"), time.Second},
	{"signed", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:+1\n"), time.Second},
	{"negative", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:-1\n"), time.Second},
	{"decimal", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:0.5\n"), time.Second},
	{"trailing space", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1 \n"), time.Second},
	{"overflow", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:99999999999999999999999\n"), time.Second},
	{"on the first line", []byte("#EXT-X-TARGETDURATION:1\n"), time.Second},
	{"in a URI", []byte("#EXTM3U\n#EXTINF:1,\nx#EXT-X-TARGETDURATION:1\n"), time.Second},
}

func TestPlaylistTTL(t *testing.T) {
	for _, c := range playlistTTLCases {
		if got := playlistTTL(c.playlist); got != c.ttl {
			t.Errorf("%s: playlistTTL = %v, want %v\n%s", c.name, got, c.ttl, c.playlist)
		}
	}
}

// FuzzPlaylistTTL: whatever a server sends, a playlist is cached for a
// positive time of at most maxPlaylistTTL; a target of n seconds, written
// as hlsmux writes it, gives half of n seconds, capped.
func FuzzPlaylistTTL(f *testing.F) {
	for _, c := range playlistTTLCases {
		f.Add(c.playlist, uint16(1))
	}
	f.Fuzz(func(t *testing.T, playlist []byte, target uint16) {
		ttl := playlistTTL(playlist)
		if ttl <= 0 || ttl > maxPlaylistTTL {
			t.Fatalf("playlistTTL(%q) = %v", playlist, ttl)
		}
		if target == 0 || bytes.Contains(playlist, targetDurationTag) {
			return
		}
		head := []byte("#EXTM3U\n#EXT-X-TARGETDURATION:" + strconv.Itoa(int(target)) + "\n")
		want := min(time.Duration(target)*time.Second/2, maxPlaylistTTL)
		if got := playlistTTL(append(head, playlist...)); got != want {
			t.Fatalf("target %d before %q: %v, want %v", target, playlist, got, want)
		}
	})
}
