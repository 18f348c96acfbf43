package pipeline

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/codec"
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

// DecoderThreads is the video decoder's thread count for plan and the
// publisher's codec. For H.264, when the renditions are at least as many
// as the ladder's cores, their encoders keep every core busy and decoding
// on one thread costs no speed, while it saves the pictures frame
// threading holds per thread (12 MB on a 720p ladder) and its frames of
// delay. Otherwise, and always for HEVC, 0 lets FFmpeg choose (one per
// core): an HEVC decode costs about three times an H.264 one of the same
// picture, and on one thread it paced a 1080p30 ladder at 20 fps on 2
// cores (BenchmarkLadder1080p30HEVC).
func DecoderThreads(cfg Config, plan []Planned, codec media.VideoCodec) int {
	if cfg.DecoderThreads > 0 {
		return cfg.DecoderThreads
	}
	if codec == media.HEVC {
		return 0
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

// The live x264 settings, where the config leaves them to the pipeline.
// A live picture must not wait in x264 for later ones: every frame it
// waits lists its LL-HLS part 33 ms later at 30 fps, and a part must be
// listed within 0.25 s of its last picture's arrival. x264 holds a picture
// back by the larger of its B-frames and its lookahead, one frame more to
// read its duration off the next picture's timestamp, and with frame
// threads one per thread beyond the first plus a sync lookahead; a
// B-picture also waits for the reference after it. Live outputs therefore
// run without B-frames and a 3-frame lookahead, tell x264 the rate is
// constant (the frame clock makes it so) and split pictures into slices
// across threads: 3 frames at any thread count, against 8 before (5-frame
// lookahead, 3 B-frames; 13 with two frame threads).
//
// Measured on the 20 s noisy 720p30 source (bench/x264live.sh, 3 runs),
// against the 5-frame lookahead and 3 B-frames live streams had: PSNR
// −0.14 / −0.16 / −0.26 dB on 360p / 480p / 720p (−0.29 on 720p with two
// sliced threads), bytes +0.1 / +0.5 / −0.1 % (the VBV cap, not CRF, sets
// the bits of a noisy picture), encode CPU 0.75×. Keeping B-frames with a
// short lookahead costs more: 2 B-frames with lookahead 2 (also 3 frames
// of delay) lose 0.68 dB on 360p; lookahead 2 without B-frames (2 frames)
// 0.35 dB on 720p; x264's zerolatency (0 frames) 0.52 dB for 2.8 % more
// bytes. 2 B-frames with lookahead 3 lose only 0.07 dB, for a fourth
// frame of delay.
const (
	// LiveLookahead is x264's rate-control lookahead for live streams.
	LiveLookahead = 3
	// LiveBFrames is x264's B-frames for live streams, in codec's terms.
	LiveBFrames = codec.Disabled
	// LiveDelayFrames is the most frames a live encoder holds a picture
	// back with the settings above.
	LiveDelayFrames = 3
)

// Lookahead is x264's lookahead for a live output or a file, in codec's
// terms (0: the preset's, codec.Disabled: none).
func Lookahead(cfg Config, live bool) int {
	switch {
	case cfg.Lookahead < 0:
		return codec.Disabled
	case cfg.Lookahead == 0 && live:
		return LiveLookahead
	}
	return cfg.Lookahead
}

// BFrames is x264's B-frames for a live output or a file, in codec's terms
// (0: the preset's, codec.Disabled: none).
func BFrames(cfg Config, live bool) int {
	switch {
	case cfg.BFrames < 0:
		return codec.Disabled
	case cfg.BFrames == 0 && live:
		return LiveBFrames
	}
	return cfg.BFrames
}

// setDelay sets the fields of c that decide how many pictures x264 holds
// back, for a live output or a file (which keeps the preset's, frame
// threads and timestamps' durations, for throughput and bits).
func setDelay(c *codec.VideoEncoderConfig, cfg Config, live bool) {
	c.Lookahead = Lookahead(cfg, live)
	c.BFrames = BFrames(cfg, live)
	// The frame clock puts live pictures on the stream's grid (retime.go),
	// so x264 may take every picture as one frame long instead of waiting
	// for the next one's timestamp. A picture the lag budget skips only
	// makes x264 think less time passed: its VBV then spends less, never
	// more, than the cap.
	c.ConstantRate = live
	// Sliced threads hold nothing back; frame threads would hold a picture
	// one frame per thread beyond the first, and a sync lookahead more.
	c.SlicedThreads = live
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
