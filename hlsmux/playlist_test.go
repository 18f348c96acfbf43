package hlsmux

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".m3u8.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./hlsmux -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

func seg(seq int64, secs float64) SegmentInfo {
	return SegmentInfo{Seq: seq, Name: strconv.FormatInt(seq, 10) + ".ts", Duration: time.Duration(secs * float64(time.Second))}
}

func TestMediaPlaylistGolden(t *testing.T) {
	live := &MediaPlaylist{Type: Live, TargetDuration: 6 * time.Second, Window: 3}
	var evicted []SegmentInfo
	for i := int64(0); i < 5; i++ {
		s := seg(1700000000000+i, 6)
		if i == 1 || i == 3 {
			s.Discontinuity = true
		}
		evicted = append(evicted, live.Append(s)...)
	}
	if len(evicted) != 2 || evicted[0].Seq != 1700000000000 || evicted[1].Seq != 1700000000001 {
		t.Errorf("evicted %+v, want the first two", evicted)
	}
	golden(t, "live", live.Encode())
	live.End()
	golden(t, "live-ended", live.Encode())

	vod := &MediaPlaylist{Type: VOD, TargetDuration: 6 * time.Second}
	for i, d := range []float64{6, 6, 7.4, 1.033} {
		vod.Append(seg(int64(100+i), d))
	}
	vod.End()
	golden(t, "vod", vod.Encode())

	event := &MediaPlaylist{Type: Event, TargetDuration: 4 * time.Second}
	event.Append(seg(7, 4))
	event.Append(seg(8, 4.2))
	golden(t, "event", event.Encode())
}

// TestTargetDuration: EXT-X-TARGETDURATION is the configured duration
// rounded up, raised to any EXTINF rounded to the nearest second as it is
// written (6.4996 s is written 6.500, so it needs 7), and it never comes
// down once that segment has left the window (RFC 8216 §6.2.1).
func TestTargetDuration(t *testing.T) {
	p := &MediaPlaylist{Type: Live, TargetDuration: 5500 * time.Millisecond, Window: 4}
	short := &MediaPlaylist{Type: Live, TargetDuration: 5500 * time.Millisecond, Window: 1}
	for i, d := range []float64{6, 6.4996, 5.2, 4, 2.0004} {
		p.Append(seg(int64(i), d))
		short.Append(seg(int64(i), d))
	}
	golden(t, "target", p.Encode())
	if !bytes.Contains(short.Encode(), []byte("#EXT-X-TARGETDURATION:7\n")) {
		t.Errorf("the target came down when the long segment left the window:\n%s", short.Encode())
	}
}

func TestMediaPlaylistAppend(t *testing.T) {
	p := &MediaPlaylist{Type: Live, Window: 2}
	if ev := p.Append(seg(1, 2)); ev != nil {
		t.Errorf("evicted %v from a playlist that was not full", ev)
	}
	p.Append(seg(2, 2))
	got := p.Segments()
	got[0].Name = "changed"
	if p.Segments()[0].Name != "1.ts" {
		t.Error("Segments returned the playlist's own slice")
	}
	if ev := p.Append(seg(3, 2)); len(ev) != 1 || ev[0].Seq != 1 {
		t.Errorf("evicted %v, want segment 1", ev)
	}
	if ss := p.Segments(); len(ss) != 2 || ss[0].Seq != 2 || ss[1].Seq != 3 {
		t.Errorf("segments %v, want 2 and 3", ss)
	}
	// Event and VOD playlists keep everything whatever the window.
	for _, typ := range []PlaylistType{Event, VOD} {
		p := &MediaPlaylist{Type: typ, Window: 1}
		p.Append(seg(1, 2))
		if ev := p.Append(seg(2, 2)); ev != nil || len(p.Segments()) != 2 {
			t.Errorf("type %d: evicted %v", typ, ev)
		}
	}
	empty := &MediaPlaylist{Type: Event, TargetDuration: 2 * time.Second}
	empty.End()
	golden(t, "event-empty-ended", empty.Encode())
}

func TestMasterGolden(t *testing.T) {
	golden(t, "master", EncodeMaster([]Variant{
		{Name: "360p", URI: "360p/index.m3u8", Bandwidth: 1047200, AverageBandwidth: 985600, Width: 640, Height: 360, Codecs: "avc1.4d401e,mp4a.40.2", FrameRate: 30},
		{Name: "720p", URI: "720p/index.m3u8", Bandwidth: 3436400, Width: 1280, Height: 720, Codecs: "avc1.4d401f", FrameRate: 29.97},
		{Name: "audio", URI: "audio/index.m3u8", Bandwidth: 140000, Codecs: "mp4a.40.2"},
		{URI: "unknown/index.m3u8", Bandwidth: 500000, Width: 640}, // no height: no RESOLUTION
	}))
}
