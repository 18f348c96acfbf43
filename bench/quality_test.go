package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

// TestQualityMatchesCLI: the 720p rendition, decoded and compared with the
// source by FFmpeg's psnr filter, is at least as good as the ffmpeg CLI's
// 720p rendition made with the same settings from the same input (within
// 0.3 dB).
func TestQualityMatchesCLI(t *testing.T) {
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: 8, Audio: true, Format: "flv", Noise: true})
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours")
	store, err := hlsmux.NewDirStore(ours)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pipeline.OpenFile(src, pipeline.Config{}, pipeline.Output{Store: store, Type: hlsmux.VOD, FirstSeq: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var top []pipeline.Planned
	for _, r := range f.Renditions() {
		if r.Name == "720p" {
			top = append(top, r)
		}
	}
	ref := filepath.Join(dir, "ref")
	os.MkdirAll(filepath.Join(ref, "720p"), 0o755)
	cmd := exec.Command(ffmpeg, ReferenceArgs(src, ref, pipeline.Config{}, top, f.GOP(), true)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference ffmpeg: %v\n%s", err, out)
	}
	pOurs := testenv.PSNR(t, filepath.Join(ours, "720p", "index.m3u8"), src, 1280, 720)
	pRef := testenv.PSNR(t, filepath.Join(ref, "720p", "index.m3u8"), src, 1280, 720)
	t.Logf("720p PSNR: livestream %.3f dB, ffmpeg CLI %.3f dB", pOurs, pRef)
	if pOurs < pRef-0.3 {
		t.Errorf("720p PSNR %.3f dB is more than 0.3 dB below the CLI's %.3f dB", pOurs, pRef)
	}
}
