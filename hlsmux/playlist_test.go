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

func TestMasterGolden(t *testing.T) {
	golden(t, "master", EncodeMaster([]Variant{
		{Name: "360p", URI: "360p/index.m3u8", Bandwidth: 1047200, AverageBandwidth: 985600, Width: 640, Height: 360, Codecs: "avc1.4d401e,mp4a.40.2", FrameRate: 30},
		{Name: "720p", URI: "720p/index.m3u8", Bandwidth: 3436400, Width: 1280, Height: 720, Codecs: "avc1.4d401f", FrameRate: 29.97},
	}))
}
