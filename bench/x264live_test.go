package bench

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
)

// x264Candidate is one set of live x264 settings TestLiveX264Candidates
// measures. Zero fields keep the preset's, as in codec.VideoEncoderConfig.
type x264Candidate struct {
	name                              string
	bframes, lookahead, syncLookahead int
	sliced, cfr                       bool
	// cores is the machine the pipeline sizes x264's threads for
	// (pipeline.EncoderThreads): 2 gives every rung one thread, 4 gives
	// 720p two.
	cores int
}

// x264Candidates are the live settings compared, today's first.
var x264Candidates = []x264Candidate{
	{name: "today (bf3 la5)", lookahead: 5, cores: 2},
	{name: "bf2 la3 cfr", bframes: 2, lookahead: 3, cfr: true, cores: 2},
	{name: "bf2 la2 cfr", bframes: 2, lookahead: 2, cfr: true, cores: 2},
	{name: "bf1 la3 cfr", bframes: 1, lookahead: 3, cfr: true, cores: 2},
	{name: "bf1 la2 cfr", bframes: 1, lookahead: 2, cfr: true, cores: 2},
	{name: "bf0 la5 cfr", bframes: codec.Disabled, lookahead: 5, cfr: true, cores: 2},
	{name: "bf0 la3", bframes: codec.Disabled, lookahead: 3, cores: 2},
	{name: "bf0 la3 cfr", bframes: codec.Disabled, lookahead: 3, cfr: true, cores: 2},
	{name: "bf0 la2 cfr", bframes: codec.Disabled, lookahead: 2, cfr: true, cores: 2},
	{name: "zerolatency", bframes: codec.Disabled, lookahead: codec.Disabled, syncLookahead: codec.Disabled, sliced: true, cfr: true, cores: 2},
	{name: "today, 4 cores", lookahead: 5, cores: 4},
	{name: "bf0 la3 cfr, 4 cores", bframes: codec.Disabled, lookahead: 3, cfr: true, cores: 4},
	{name: "bf0 la3 cfr sync0, 4 cores", bframes: codec.Disabled, lookahead: 3, syncLookahead: codec.Disabled, cfr: true, cores: 4},
	{name: "bf0 la3 cfr sliced, 4 cores", bframes: codec.Disabled, lookahead: 3, sliced: true, cfr: true, cores: 4},
}

// x264Result is one candidate's measures over every run.
type x264Result struct {
	delay map[string]int     // most frames a picture waited for its packet, per rendition
	first map[string]int     // pictures in before the first packet, per rendition
	bytes map[string]int     // video bytes, per rendition
	cpu   []time.Duration    // encode CPU per run (pass minus the floor of the same run)
	psnr  map[string]float64 // per rendition, against the source
	dir   string             // the first run's HLS output
}

// TestLiveX264Candidates measures x264's delay in frames (counts of
// pictures sent, not time), each rendition's PSNR against the source and
// video bytes, and the encode CPU of each live x264 candidate on the ladder
// of the noisy 720p30 source. Runs go round robin, a decode-and-scale floor
// pass in each round, so that the machine's noise falls on every candidate
// alike; CPU is the median of the runs.
//
// It runs only when LIVESTREAM_X264_RUNS is set (bench/x264live.sh);
// LIVESTREAM_X264_SECONDS sets the source's length (20) and
// LIVESTREAM_X264_ONLY keeps today's and the candidates whose name
// contains it.
func TestLiveX264Candidates(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("LIVESTREAM_X264_RUNS"))
	if runs <= 0 {
		t.Skip("set LIVESTREAM_X264_RUNS to the number of runs")
	}
	seconds := 20.0
	if s, err := strconv.ParseFloat(os.Getenv("LIVESTREAM_X264_SECONDS"), 64); err == nil && s > 0 {
		seconds = s
	}
	cands := x264Candidates
	if only := os.Getenv("LIVESTREAM_X264_ONLY"); only != "" {
		cands = slices.DeleteFunc(slices.Clone(cands), func(c x264Candidate) bool { return !strings.Contains(c.name, only) && c.name != x264Candidates[0].name })
	}
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 1280, Height: 720, FPS: 30, Seconds: seconds, Format: "flv", Noise: true})
	dmx, err := codec.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	params := *dmx.Video
	video, _, err := readPackets(dmx)
	dmx.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.DefaultConfig()
	plan := pipeline.Plan(cfg.Ladder, params.Width, params.Height)
	out := t.TempDir()

	results := make([]x264Result, len(cands))
	for i := range results {
		results[i].dir = filepath.Join(out, strconv.Itoa(i))
	}
	for run := range runs {
		floor, err := x264Pass(params, video, plan, cfg, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		for k := range cands {
			i := (k + run) % len(cands) // a different order each run
			dir := ""
			if run == 0 {
				dir = results[i].dir
			}
			r, err := x264Pass(params, video, plan, cfg, &cands[i], dir)
			if err != nil {
				t.Fatalf("%s: %v", cands[i].name, err)
			}
			if run == 0 {
				results[i].delay, results[i].first, results[i].bytes = r.delay, r.first, r.bytes
			} else if !maps.Equal(r.bytes, results[i].bytes) {
				t.Logf("%s: bytes differ between runs: %v, %v", cands[i].name, r.bytes, results[i].bytes)
			}
			results[i].cpu = append(results[i].cpu, r.cpu[0]-floor.cpu[0])
		}
		t.Logf("run %d of %d done", run+1, runs)
	}
	for i := range results {
		results[i].psnr = map[string]float64{}
		for _, r := range plan {
			results[i].psnr[r.Name] = testenv.PSNR(t, filepath.Join(results[i].dir, r.Name, "index.m3u8"), src, r.OutWidth, r.OutHeight)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d runs, %g s 720p30 source; delay: frames a picture waits for its packet (max over pictures) / pictures in before the first packet\n", runs, seconds)
	fmt.Fprintf(&b, "| candidate | delay 360p/480p/720p |")
	for _, r := range plan {
		fmt.Fprintf(&b, " %s PSNR (Δ) | %s bytes (ratio) |", r.Name, r.Name)
	}
	fmt.Fprintf(&b, " encode CPU-s (ratio) |\n|---|---|")
	for range plan {
		b.WriteString("---|---|")
	}
	b.WriteString("---|\n")
	ref := results[0]
	refCPU := median(ref.cpu)
	for i, c := range cands {
		res := results[i]
		var d []string
		for _, r := range plan {
			d = append(d, fmt.Sprintf("%d/%d", res.delay[r.Name], res.first[r.Name]))
		}
		fmt.Fprintf(&b, "| %s | %s |", c.name, strings.Join(d, " "))
		for _, r := range plan {
			fmt.Fprintf(&b, " %.3f (%+.3f) | %d (%.3f) |", res.psnr[r.Name], res.psnr[r.Name]-ref.psnr[r.Name],
				res.bytes[r.Name], float64(res.bytes[r.Name])/float64(ref.bytes[r.Name]))
		}
		cpu := median(res.cpu)
		fmt.Fprintf(&b, " %.2f (%.3f) |\n", cpu.Seconds(), cpu.Seconds()/refCPU.Seconds())
	}
	t.Log("\n" + b.String())
}

// encoderThreadsFor is pipeline.EncoderThreads on a machine of cores.
func encoderThreadsFor(cores int, r pipeline.Planned, plan []pipeline.Planned) int {
	total := 0
	for _, p := range plan {
		total += p.OutWidth * p.OutHeight
	}
	return max(1, (r.OutWidth*r.OutHeight*cores+total/2)/total)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// x264Pass decodes the source once and, for every rendition, scales each
// picture and (with c) encodes it with c's settings, a keyframe every GOP as
// the frame clock forces them; without c it only decodes and scales, the
// floor the encode CPU is counted above. With dir, each rendition's packets
// are written there as a VOD playlist for PSNR.
func x264Pass(params media.VideoParams, video []*media.Packet, plan []pipeline.Planned, cfg pipeline.Config, c *x264Candidate, dir string) (x264Result, error) {
	res := x264Result{delay: map[string]int{}, first: map[string]int{}, bytes: map[string]int{}}
	dec, err := codec.NewVideoDecoder(params, 1)
	if err != nil {
		return res, err
	}
	defer dec.Close()
	rate := params.FrameRate
	gop := pipeline.GOPFrames(cfg.KeyframeInterval, rate)
	type rung struct {
		r   pipeline.Planned
		sc  *codec.Scaler
		enc *codec.VideoEncoder
		seg *hlsmux.Segmenter
		in  int
		idx map[int64]int // picture PTS → its number, counted from 1
	}
	var rungs []*rung
	defer func() {
		for _, g := range rungs {
			g.sc.Close()
			if g.enc != nil {
				g.enc.Close()
			}
		}
	}()
	for _, r := range plan {
		g := &rung{r: r, sc: codec.NewScaler(r.OutWidth, r.OutHeight), idx: map[int64]int{}}
		rungs = append(rungs, g)
		if c == nil {
			continue
		}
		threads := 1
		if c.cores > 0 {
			threads = encoderThreadsFor(c.cores, r, plan)
		}
		g.enc, err = codec.NewVideoEncoder(codec.VideoEncoderConfig{
			Width: r.OutWidth, Height: r.OutHeight, FrameRate: rate,
			Bitrate: int(r.VideoBitrate), MaxRate: int(r.MaxRate), BufSize: int(r.BufSize),
			CRF: cfg.CRF, Preset: cfg.PresetOf(r.Rendition), Profile: cfg.Profile,
			GOP: gop + gop/2, Threads: threads,
			Lookahead: c.lookahead, BFrames: c.bframes, SyncLookahead: c.syncLookahead,
			SlicedThreads: c.sliced, ConstantRate: c.cfr,
		})
		if err != nil {
			return res, err
		}
		if dir != "" {
			store, err := hlsmux.NewDirStore(dir)
			if err != nil {
				return res, err
			}
			g.seg, err = hlsmux.NewSegmenter(hlsmux.SegmenterConfig{Dir: r.Name, Store: store, Type: hlsmux.VOD,
				TargetDuration: cfg.SegmentDuration, FirstSeq: 1, Video: true,
				FrameDuration: int64(media.ClockRate) * int64(rate.Den) / int64(rate.Num)})
			if err != nil {
				return res, err
			}
		}
		res.first[r.Name] = -1
	}
	emitFor := func(g *rung, flushing bool) func(*media.Packet) error {
		return func(p *media.Packet) error {
			name := g.r.Name
			if res.first[name] < 0 {
				res.first[name] = g.in
			}
			if !flushing {
				res.delay[name] = max(res.delay[name], g.in-g.idx[p.PTS])
			}
			res.bytes[name] += len(p.Data)
			if g.seg != nil {
				return g.seg.WriteVideo(p)
			}
			return nil
		}
	}
	n := 0
	c0 := CPUTime()
	err = decodeAll(dec, video, func(f *codec.Frame) error {
		defer f.Release()
		key := n%gop == 0
		n++
		for _, g := range rungs {
			s := f.Clone()
			if codec.NeedsScaling(f, g.r.OutWidth, g.r.OutHeight) {
				s.Release()
				if s, err = g.sc.Scale(f); err != nil {
					return err
				}
			}
			if g.enc == nil {
				s.Release()
				continue
			}
			g.in++
			g.idx[s.PTS()] = g.in
			if key {
				err = g.enc.EncodeKeyframe(s, emitFor(g, false))
			} else {
				err = g.enc.Encode(s, emitFor(g, false))
			}
			s.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, g := range rungs {
		if g.enc == nil {
			continue
		}
		if err := g.enc.Flush(emitFor(g, true)); err != nil {
			return res, err
		}
		if g.seg != nil {
			if err := g.seg.Close(); err != nil {
				return res, err
			}
		}
	}
	res.cpu = []time.Duration{CPUTime() - c0}
	return res, nil
}
