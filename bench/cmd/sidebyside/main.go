// Command sidebyside runs livestream's transcode and the reference ffmpeg CLI
// ladder on the same input, alternating, and prints the medians and ratios of
// wall time, throughput, CPU time and peak RSS, with the CPU floor (one
// decode + needed scales + each x264 encode alone) measured in process.
//
//	go run ./bench/cmd/sidebyside -livestream bin/livestream -runs 5 SOURCE...
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/livestream/livestream/bench"
	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/pipeline"
)

type result struct {
	wall, cpu time.Duration
	rssKB     int64
}

func main() {
	bin := flag.String("livestream", "bin/livestream", "livestream binary")
	ffmpeg := flag.String("ffmpeg", "ffmpeg", "ffmpeg CLI")
	ffprobe := flag.String("ffprobe", "ffprobe", "ffprobe, for the quality comparison")
	runs := flag.Int("runs", 5, "runs of each, alternating")
	floorRuns := flag.Int("floor-runs", 1, "with -floor-of: floor measurements (the comparison measures one between the two runs of each pair)")
	floorOf := flag.String("floor-of", "", "measure the floor of this source and print it as JSON (used by the parent)")
	quality := flag.Bool("quality", true, "compare each rendition's PSNR and bytes with the CLI's after the runs")
	flag.Parse()
	codec.Quiet()
	if *floorOf != "" {
		if err := printFloors(*floorOf, *floorRuns); err != nil {
			fmt.Fprintf(os.Stderr, "sidebyside: floor of %s: %v\n", *floorOf, err)
			os.Exit(1)
		}
		return
	}
	ok := true
	for _, src := range flag.Args() {
		if err := compare(src, *bin, *ffmpeg, *ffprobe, *runs, *quality); err != nil {
			fmt.Fprintf(os.Stderr, "sidebyside: %s: %v\n", src, err)
			ok = false
		}
	}
	if !ok {
		os.Exit(1)
	}
}

func compare(src, bin, ffmpeg, ffprobe string, runs int, quality bool) error {
	cfg := pipeline.DefaultConfig()
	dmx, err := codec.OpenFile(src)
	if err != nil {
		return err
	}
	v, audio := *dmx.Video, dmx.Audio != nil
	dmx.Close()
	plan := pipeline.Plan(cfg.Ladder, v.Width, v.Height)
	gop := pipeline.GOPFrames(cfg.KeyframeInterval, v.FrameRate)

	tmp, err := os.MkdirTemp("", "sidebyside-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ours := func() (result, error) {
		out := filepath.Join(tmp, "livestream")
		os.RemoveAll(out)
		return measure(bin, "transcode", "--quiet", src, out)
	}
	ref := func() (result, error) {
		out := filepath.Join(tmp, "ffmpeg")
		os.RemoveAll(out)
		for _, r := range plan {
			os.MkdirAll(filepath.Join(out, r.Name), 0o755)
		}
		return measure(ffmpeg, bench.ReferenceArgs(src, out, cfg, plan, gop, audio)...)
	}
	var a, b []result
	var floors []bench.Floor
	for i := range runs {
		// ABBA order, so that neither side always runs on a warmer machine.
		first, second := ours, ref
		if i%2 == 1 {
			first, second = ref, ours
		}
		r1, err := first()
		if err != nil {
			return err
		}
		// One floor per pair, between its runs: it moves with the
		// machine's load as the runs do (a floor measured after them
		// once came out above livestream's own CPU), and the run that
		// follows it alternates between the sides with the ABBA order.
		fs, err := floorsOf(src, 1)
		if err != nil {
			return err
		}
		floors = append(floors, fs...)
		r2, err := second()
		if err != nil {
			return err
		}
		if i%2 == 1 {
			r1, r2 = r2, r1
		}
		a, b = append(a, r1), append(b, r2)
	}
	if len(floors) == 0 {
		return fmt.Errorf("no floor measured")
	}
	frames := floors[0].Frames
	wa, wb := median(a, func(r result) float64 { return r.wall.Seconds() }), median(b, func(r result) float64 { return r.wall.Seconds() })
	ca, cb := median(a, func(r result) float64 { return r.cpu.Seconds() }), median(b, func(r result) float64 { return r.cpu.Seconds() })
	ra, rb := median(a, func(r result) float64 { return float64(r.rssKB) / 1024 }), median(b, func(r result) float64 { return float64(r.rssKB) / 1024 })
	fl := medianFloor(floors)
	fmt.Printf("\n%s: %dx%d %.3g fps, %d frames (%.1f s), %d renditions, median of %d alternating runs\n",
		filepath.Base(src), v.Width, v.Height, v.FrameRate.Float(), frames, floors[0].VideoSeconds, len(plan), runs)
	fmt.Printf("%-26s %12s %12s %9s\n", "", "livestream", "ffmpeg CLI", "ratio")
	fmt.Printf("%-26s %12.2f %12.2f %8.3fx\n", "wall time (s)", wa, wb, wa/wb)
	fmt.Printf("%-26s %12.1f %12.1f %8.3fx   (target >= 1.15x)\n", "throughput (frames/s)", float64(frames)/wa, float64(frames)/wb, wb/wa)
	fmt.Printf("%-26s %12.2f %12.2f %8.3fx   (target <= 0.92x)\n", "CPU time (s)", ca, cb, ca/cb)
	fmt.Printf("%-26s %12.3f %12.3f\n", "CPU-s per video-s", ca/floors[0].VideoSeconds, cb/floors[0].VideoSeconds)
	fmt.Printf("%-26s %12.0f %12.0f %8.3fx   (target <= 0.6x)\n", "peak RSS (MB)", ra, rb, ra/rb)
	fmt.Printf("%-26s %12.2f %12s %8.3fx   (livestream / floor, target <= 1.05x)\n", "CPU floor (s)", fl, "", ca/fl)
	fmt.Printf("%-26s decode %.2f, audio %.2f", "  floor parts (s)", medianOf(floors, func(f bench.Floor) float64 { return f.Decode.Seconds() }),
		medianOf(floors, func(f bench.Floor) float64 { return f.Audio.Seconds() }))
	for _, r := range plan {
		fmt.Printf(", %s scale %.2f encode %.2f", r.Name,
			medianOf(floors, func(f bench.Floor) float64 { return f.Scale[r.Name].Seconds() }),
			medianOf(floors, func(f bench.Floor) float64 { return f.Encode[r.Name].Seconds() }))
	}
	fmt.Println()
	if quality {
		// The last run of each left its ladder in tmp.
		return compareQuality(ffmpeg, ffprobe, src, filepath.Join(tmp, "livestream"), filepath.Join(tmp, "ffmpeg"), plan)
	}
	return nil
}

// compareQuality prints each rendition's PSNR against the source and its
// bytes, for both ladders: a change that saves CPU must not cost quality
// (targets: within 0.1 dB, bytes within 1 %).
func compareQuality(ffmpeg, ffprobe, src, ours, ref string, plan []pipeline.Planned) error {
	fmt.Printf("%-26s %12s %12s %9s\n", "quality", "livestream", "ffmpeg CLI", "")
	for _, r := range plan {
		var psnr, size [2]float64
		for i, dir := range []string{ours, ref} {
			d := filepath.Join(dir, r.Name)
			v, err := testenv.ComputePSNR(ffmpeg, filepath.Join(d, "index.m3u8"), src, r.OutWidth, r.OutHeight)
			if err != nil {
				return err
			}
			n, err := videoBytes(ffprobe, d)
			if err != nil {
				return err
			}
			psnr[i], size[i] = v, float64(n)
		}
		fmt.Printf("%-26s %12.3f %12.3f %+8.3f dB (target within 0.1)\n", r.Name+" PSNR (dB)", psnr[0], psnr[1], psnr[0]-psnr[1])
		fmt.Printf("%-26s %12.0f %12.0f %+8.2f %% (target within 1)\n", r.Name+" video (kB)", size[0]/1000, size[1]/1000, 100*(size[0]/size[1]-1))
	}
	return nil
}

// videoBytes is the size of the H.264 stream of the playlist in dir, as
// ffprobe reads its packets: the encoder's output, without the audio and
// the TS muxer's overhead, which differ between the two ladders (one
// AAC encode per distinct bitrate here, the CLI's own mpegts muxer).
func videoBytes(ffprobe, dir string) (int64, error) {
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=size",
		"-of", "csv=p=0", filepath.Join(dir, "index.m3u8")).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", dir, err)
	}
	var n int64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseInt(strings.TrimSuffix(l, ","), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("ffprobe %s: packet size %q", dir, l)
		}
		n += v
	}
	if n == 0 {
		return 0, fmt.Errorf("no video in %s", dir)
	}
	return n, nil
}

// floorsOf measures src's floor in a child process. The floor holds every
// decoded picture in memory, and a child's ru_maxrss starts at its
// parent's high-water mark (vfork shares the parent's memory until exec):
// measured here, it would inflate the peak RSS of every later run.
func floorsOf(src string, runs int) ([]bench.Floor, error) {
	cmd := exec.Command(os.Args[0], "-floor-of", src, "-floor-runs", fmt.Sprint(runs))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("measure floor: %w", err)
	}
	var floors []bench.Floor
	if err := json.Unmarshal(out, &floors); err != nil {
		return nil, fmt.Errorf("measure floor: %w", err)
	}
	if len(floors) == 0 {
		return nil, fmt.Errorf("measure floor: no result")
	}
	return floors, nil
}

func printFloors(src string, runs int) error {
	cfg := pipeline.DefaultConfig()
	var floors []bench.Floor
	for range runs {
		fl, err := bench.MeasureFloor(src, cfg)
		if err != nil {
			return err
		}
		floors = append(floors, fl)
	}
	return json.NewEncoder(os.Stdout).Encode(floors)
}

func measure(name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%s: %v: %s", name, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssKB: ru.Maxrss}, nil
}

func median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func medianOf(fs []bench.Floor, f func(bench.Floor) float64) float64 { return median(fs, f) }

func medianFloor(fs []bench.Floor) float64 {
	return median(fs, func(f bench.Floor) float64 { return f.Total().Seconds() })
}
