package pipeline

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
)

// Planned is a rendition as it will be produced for one source.
type Planned struct {
	Rendition
	// Width and Height of the output picture (the box fitted to the source).
	OutWidth, OutHeight int
}

// Plan fits the ladder to a source of w×h: each rendition's picture fits
// inside its box with the source's aspect ratio and even dimensions, the way
// the ffmpeg CLI's force_original_aspect_ratio=decrease:force_divisible_by=2
// computes it. Renditions taller than the source are left out (never upscale);
// when the source is smaller than every box, the lowest rendition is kept at
// the source's size so that there is always something to watch.
func Plan(ladder []Rendition, w, h int) []Planned {
	var out []Planned
	for _, r := range ladder {
		if r.Height > h {
			continue
		}
		ow, oh := fit(w, h, r.Width, r.Height)
		out = append(out, Planned{Rendition: r, OutWidth: ow, OutHeight: oh})
	}
	if len(out) == 0 && len(ladder) > 0 && w >= 2 && h >= 2 {
		out = append(out, Planned{Rendition: ladder[0], OutWidth: w &^ 1, OutHeight: h &^ 1})
	}
	return out
}

// fit returns the largest even size inside boxW×boxH with the aspect of w×h.
func fit(w, h, boxW, boxH int) (int, int) {
	tw := (boxH*w + h/2) / h // rounded, like av_rescale
	th := (boxW*h + w/2) / w
	ow, oh := min(tw, boxW), min(th, boxH)
	return max(ow&^1, 2), max(oh&^1, 2)
}

// GOPFrames is the keyframe interval in frames of the given rate, rounded.
func GOPFrames(interval time.Duration, rate media.Rational) int {
	ticks := media.Ticks(interval)
	g := (ticks*int64(rate.Num) + int64(rate.Den)*media.ClockRate/2) / (int64(rate.Den) * media.ClockRate)
	return max(int(g), 1)
}

// EncoderThreads is x264's thread count for rendition r of plan. The
// renditions already run in parallel, one goroutine each, so each x264 gets
// the share of the cores its picture size calls for, rounded to nearest and at
// least one: frame threads beyond that only add x264's synchronisation cost
// and memory. (Measured here: 720p30 veryfast costs 4.79 CPU-s per 10 s of
// video with 1 thread and 5.60 with x264's automatic count.)
//
// The cores are those of the whole process shared by the ladders running
// in it (LadderCores): a transcoding node with as many streams as cores
// gives every encoder one thread, the cheapest per frame, instead of each
// ladder sizing its threads as if it had the machine to itself.
func EncoderThreads(cfg Config, r Planned, plan []Planned) int {
	if cfg.EncoderThreads > 0 {
		return cfg.EncoderThreads
	}
	return encoderThreads(LadderCores(), r, plan)
}

func encoderThreads(cores int, r Planned, plan []Planned) int {
	total := 0
	for _, p := range plan {
		total += p.OutWidth * p.OutHeight
	}
	share := r.OutWidth * r.OutHeight * cores
	return max(1, (share+total/2)/total)
}

// DecoderThreads is the H.264 decoder's thread count for plan. When the
// renditions are at least as many as the ladder's cores, their encoders
// keep every core busy and decoding on one thread costs no speed, while it
// saves the pictures frame threading holds per thread (12 MB on a 720p
// ladder) and its frames of delay. Otherwise 0 lets FFmpeg choose (one
// per core).
func DecoderThreads(cfg Config, plan []Planned) int {
	if cfg.DecoderThreads > 0 {
		return cfg.DecoderThreads
	}
	return decoderThreads(LadderCores(), plan)
}

func decoderThreads(cores int, plan []Planned) int {
	if len(plan) >= cores {
		return 1
	}
	return 0
}

// ladders is the number of video ladders running in this process.
var ladders atomic.Int64

// LadderCores is the cores a ladder starting now may count on: the
// machine's, shared evenly by the ladders running in the process (this one
// included once it runs), at least one. Threads are chosen when a ladder
// starts; ladders already running keep theirs.
func LadderCores() int {
	return max(1, runtime.NumCPU()/max(1, int(ladders.Load())))
}

// LiveLookahead is x264's lookahead for live streams when the config leaves
// it to the pipeline. Measured on a 720p30 publish (bench/live.sh): segment
// latency p50/p99 0.48/0.52 s with the preset's 10 frames, 0.32/0.36 s with
// 5; on a 20 s 720p source the 720p rendition loses 0.12 dB of PSNR for
// 0.4 % more bytes.
const LiveLookahead = 5

// Lookahead is x264's lookahead for an output of type t.
func Lookahead(cfg Config, live bool) int {
	if cfg.Lookahead == 0 && live {
		return LiveLookahead
	}
	return cfg.Lookahead
}

// yieldNice is the nice of every encoder thread but the ladder's largest
// in a file transcode, where one ladder has the machine to itself.
//
// The largest rendition's x264 (one thread, by EncoderThreads) is the
// ladder's longest serial path: on a 720p source it is 45 % of the work.
// With every thread at the same weight, CFS shares the cores evenly among
// the decode and all encoders, the largest falls behind, the others run
// out of pictures waiting for it, and a core idles (a 2-core machine was
// 16 % of the time down to that one thread). Weighted, the largest
// encoder runs whenever it has a picture and the smaller ones fill the
// other core: measured on a 20 s 720p30 source, 2 cores, wall time 11.97
// → 10.75 s (−10 %) at the same CPU; nice 3 gave 11.3 s, 8 and 19 the
// same as 10.
//
// Live ladders keep equal weights: they run in real time with cores to
// spare or share a node with other streams, whose threads keep the cores
// busy, and a weighted 360p encoder would starve behind every other
// stream's 720p (and behind any other tenant) when the node is short of CPU.
const yieldNice = 10

// largest is the index of plan's largest rendition by picture area, the
// one whose encoder keeps full priority.
func largest(plan []Planned) int {
	best := 0
	for i, p := range plan {
		if p.OutWidth*p.OutHeight > plan[best].OutWidth*plan[best].OutHeight {
			best = i
		}
	}
	return best
}
