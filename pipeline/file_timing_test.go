package pipeline

import (
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

// TestTranscodeJitteryFile: a file whose timestamps jitter by ±1 ms and
// repeat (every 15th frame stamped with the one before's time, as a
// starved encoder does) comes out as the same clean ladder as a clean
// file: 30 fps exactly, strictly increasing, keyframes every 2 s, 6 s
// segments.
func TestTranscodeJitteryFile(t *testing.T) {
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	src := filepath.Join(t.TempDir(), "jitter.mkv")
	// Matroska keeps millisecond timestamps and allows a repeated DTS, so
	// the jitter survives the muxer (FLV's would repair it).
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "12", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-c:a", "aac",
		"-bsf:v", "setts=ts='if(eq(mod(N,15),7),PREV_OUTPTS,PTS+(mod(N*7,3)-1))'", src).CombinedOutput()
	if err != nil {
		t.Fatalf("make the jittery source: %v\n%s", err, out)
	}
	// The source is what the test claims: repeats and uneven steps.
	in := testenv.ProbePackets(t, src, "v:0")
	steps := map[int]bool{}
	for i := 1; i < len(in); i++ {
		steps[int(math.Round((parseF(in[i].PTSTime)-parseF(in[i-1].PTSTime))*1000))] = true
	}
	if !steps[0] || len(steps) < 3 {
		t.Fatalf("the source's steps in ms are %v: want repeats (0) and jitter", steps)
	}

	dir, f := transcodeVOD(t, src, Config{})
	if st := f.Stats(); st.Duplicated == 0 || st.DroppedLate == 0 {
		t.Errorf("frame clock: %d duplicated, %d dropped: the repeats should cost one of each", st.Duplicated, st.DroppedLate)
	}
	pl := readMedia(t, filepath.Join(dir, "360p", "index.m3u8"))
	if len(pl.segs) != 2 {
		t.Fatalf("%d segments, want 2 of 6 s", len(pl.segs))
	}
	for i, seg := range pl.segs {
		pk := testenv.ProbePackets(t, filepath.Join(dir, "360p", seg.uri), "v:0")
		var pts, keys []float64
		for _, p := range pk {
			pts = append(pts, parseF(p.PTSTime))
			if p.Flags[0] == 'K' {
				keys = append(keys, parseF(p.PTSTime))
			}
		}
		slices.Sort(pts)
		for j := 1; j < len(pts); j++ {
			if d := pts[j] - pts[j-1]; math.Abs(d-1.0/30) > 1.0/90000 {
				t.Fatalf("segment %d: frames %d and %d are %.5f s apart, want 1/30", i, j-1, j, d)
			}
		}
		if len(pk) != 180 {
			t.Errorf("segment %d: %d frames, want 180", i, len(pk))
		}
		if len(keys) != 3 || keys[0] != pts[0] || math.Abs(keys[1]-keys[0]-2) > 1e-6 || math.Abs(keys[2]-keys[1]-2) > 1e-6 {
			t.Errorf("segment %d: keyframes at %v, want every 2 s from its start", i, keys)
		}
		if d := seg.dur; math.Abs(d-6) > 0.001 {
			t.Errorf("segment %d: EXTINF %s, want 6", i, strconv.FormatFloat(d, 'f', -1, 64))
		}
	}
}
