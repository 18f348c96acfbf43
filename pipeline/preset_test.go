package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

// TestRenditionPreset: a rendition's own x264 preset is the one its
// encoder runs (x264 writes its settings into the stream: ultrafast turns
// CABAC off), the others keep the transcode's.
func TestRenditionPreset(t *testing.T) {
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 180, FPS: 30, Seconds: 2, Format: "flv"})
	low := Rendition{Name: "low", Width: 160, Height: 90, VideoBitrate: 200_000, AudioBitrate: 64_000, Preset: "ultrafast"}
	high := Rendition{Name: "high", Width: 320, Height: 180, VideoBitrate: 400_000, AudioBitrate: 64_000}
	dir, _ := transcodeVOD(t, src, Config{Ladder: []Rendition{low, high}})
	settings := func(name string) string {
		ts, err := filepath.Glob(filepath.Join(dir, name, "*.ts"))
		if err != nil || len(ts) == 0 {
			t.Fatalf("%s: no segments (%v)", name, err)
		}
		b, err := os.ReadFile(ts[0])
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(b, []byte("options: "))
		if i < 0 {
			t.Fatalf("%s: no x264 settings in the first segment", name)
		}
		end := bytes.IndexByte(b[i:], 0)
		if end < 0 {
			end = min(len(b)-i, 2000)
		}
		return string(b[i : i+end])
	}
	if s := settings("low"); !strings.Contains(s, "cabac=0") {
		t.Errorf("the ultrafast rendition was encoded with CABAC: %.200s", s)
	}
	if s := settings("high"); !strings.Contains(s, "cabac=1") {
		t.Errorf("the veryfast rendition was encoded without CABAC: %.200s", s)
	}
}
