package bench

import (
	"fmt"
	"sync"
	"testing"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/pipeline"
)

// The per-stage benchmarks time each part of the ladder alone, per frame,
// on the noisy 720p30 and 1080p30 sources, so that a regression in one
// stage shows in one run of `make bench`: the decode (one thread, as the
// ladder decodes), each scale the ladder makes (direct and cascaded), each
// rendition's x264 encode (one thread, the file lookahead) and the TS
// segmenter. Each also reports the C heap it holds while it runs
// (heap-MB), which is what a ladder's memory is made of.

// stageSource is one source's packets and decoded pictures, made once.
type stageSource struct {
	params media.VideoParams
	video  []*media.Packet
	frames []*codec.Frame
	rate   media.Rational
}

var (
	stageMu      sync.Mutex
	stageSources = map[string]*stageSource{}
)

// stageFrames is how many pictures a stage benchmark cycles through (3 s).
const stageFrames = 90

func loadStage(b *testing.B, w, h int) *stageSource {
	b.Helper()
	stageMu.Lock()
	defer stageMu.Unlock()
	key := fmt.Sprintf("%dx%d", w, h)
	if s := stageSources[key]; s != nil {
		return s
	}
	dmx, err := codec.OpenFile(benchSource(b, w, h))
	if err != nil {
		b.Fatal(err)
	}
	defer dmx.Close()
	s := &stageSource{params: *dmx.Video, rate: dmx.Video.FrameRate}
	if s.video, _, err = readPackets(dmx); err != nil {
		b.Fatal(err)
	}
	dec, err := codec.NewVideoDecoder(s.params, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	keep := func(f *codec.Frame) error {
		if len(s.frames) < stageFrames {
			s.frames = append(s.frames, f)
		} else {
			f.Release()
		}
		return nil
	}
	if err := decodeAll(dec, s.video, keep); err != nil {
		b.Fatal(err)
	}
	stageSources[key] = s
	return s
}

// heapMB reports the C heap held now over before, in MB.
func heapMB(b *testing.B, before int64) {
	b.ReportMetric(float64(codec.HeapInUse()-before)/1e6, "heap-MB")
}

func BenchmarkStageDecode(b *testing.B) {
	for _, sz := range [][2]int{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dp", sz[1]), func(b *testing.B) {
			s := loadStage(b, sz[0], sz[1])
			h0 := codec.HeapInUse()
			dec, err := codec.NewVideoDecoder(s.params, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer dec.Close()
			var held int64
			drop := func(f *codec.Frame) error { held = max(held, codec.HeapInUse()); f.Release(); return nil }
			b.ResetTimer()
			for i := range b.N {
				// One packet per op, the source's GOPs over and over:
				// packets are decoded in order from a keyframe.
				if err := dec.Decode(s.video[i%len(s.video)], drop); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(held-h0)/1e6, "heap-MB")
		})
	}
}

// scaleCases are the scales the ladder makes: direct from the source and
// cascaded from the 720p picture.
var scaleCases = []struct {
	srcW, srcH int
	from       string // "" the source, else the rung scaled first
	w, h       int
}{
	{1920, 1080, "", 1280, 720},
	{1920, 1080, "", 842, 474},
	{1920, 1080, "", 640, 360},
	{1920, 1080, "720p", 842, 474},
	{1920, 1080, "720p", 640, 360},
	{1280, 720, "", 854, 480},
	{1280, 720, "", 640, 360},
}

func BenchmarkStageScale(b *testing.B) {
	for _, c := range scaleCases {
		name := fmt.Sprintf("%dp-to-%dp", c.srcH, c.h)
		if c.from != "" {
			name = fmt.Sprintf("%dp-via-%s-to-%dp", c.srcH, c.from, c.h)
		}
		b.Run(name, func(b *testing.B) {
			s := loadStage(b, c.srcW, c.srcH)
			in := s.frames
			if c.from != "" { // the cascade's input: the 720p pictures
				in = scaleAll(b, s.frames, 1280, 720)
			}
			sc := codec.NewScaler(c.w, c.h)
			defer sc.Close()
			b.ResetTimer()
			for i := range b.N {
				p, err := sc.Scale(in[i%len(in)])
				if err != nil {
					b.Fatal(err)
				}
				p.Release()
			}
		})
	}
}

// scaleAll scales frames to w×h, released when b ends.
func scaleAll(b *testing.B, frames []*codec.Frame, w, h int) []*codec.Frame {
	sc := codec.NewScaler(w, h)
	defer sc.Close() // the pool outlives it until the pictures are released
	var out []*codec.Frame
	b.Cleanup(func() {
		for _, f := range out {
			f.Release()
		}
	})
	for _, f := range frames {
		p, err := sc.Scale(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func BenchmarkStageEncode(b *testing.B) {
	cfg := pipeline.DefaultConfig()
	s := loadStage(b, 1280, 720)
	for _, r := range pipeline.Plan(cfg.Ladder, 1280, 720) {
		b.Run(r.Name, func(b *testing.B) {
			pics := scaleAll(b, s.frames, r.OutWidth, r.OutHeight)
			h0 := codec.HeapInUse()
			enc, err := codec.NewVideoEncoder(codec.VideoEncoderConfig{
				Width: r.OutWidth, Height: r.OutHeight, FrameRate: s.rate,
				Bitrate: int(r.VideoBitrate), MaxRate: int(r.MaxRate), BufSize: int(r.BufSize),
				CRF: cfg.CRF, Preset: cfg.Preset, Profile: cfg.Profile,
				GOP: pipeline.GOPFrames(cfg.KeyframeInterval, s.rate), Threads: 1,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer enc.Close()
			drop := func(*media.Packet) error { return nil }
			dur := int64(media.ClockRate) * int64(s.rate.Den) / int64(s.rate.Num)
			b.ResetTimer()
			for i := range b.N {
				p := pics[i%len(pics)].Clone()
				p.SetPTS(int64(i) * dur)
				err := enc.Encode(p, drop)
				p.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			heapMB(b, h0)
		})
	}
}

// BenchmarkStageMux writes a 720p rendition's packets and its audio into
// segments and playlists in memory, per video frame.
func BenchmarkStageMux(b *testing.B) {
	cfg := pipeline.DefaultConfig()
	s := loadStage(b, 1280, 720)
	r := pipeline.Plan(cfg.Ladder, 1280, 720)[2]
	gop := pipeline.GOPFrames(cfg.KeyframeInterval, s.rate)
	enc, err := codec.NewVideoEncoder(codec.VideoEncoderConfig{
		Width: r.OutWidth, Height: r.OutHeight, FrameRate: s.rate,
		Bitrate: int(r.VideoBitrate), MaxRate: int(r.MaxRate), BufSize: int(r.BufSize),
		CRF: cfg.CRF, Preset: cfg.Preset, Profile: cfg.Profile, GOP: gop, Threads: 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	var pkts []*media.Packet
	keep := func(p *media.Packet) error { pkts = append(pkts, p); return nil }
	dur := int64(media.ClockRate) * int64(s.rate.Den) / int64(s.rate.Num)
	for i, f := range s.frames {
		p := f.Clone()
		p.SetPTS(int64(i) * dur)
		err := enc.Encode(p, keep)
		p.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Flush(keep); err != nil {
		b.Fatal(err)
	}
	audio := &media.Packet{Kind: media.Audio, Keyframe: true, Data: make([]byte, 400)} // ~128 kbit/s of AAC frames
	const audioDur = 1024 * media.ClockRate / 48000
	seg, err := hlsmux.NewSegmenter(hlsmux.SegmenterConfig{
		Dir: "720p", Store: hlsmux.NewMemoryStore(), Type: hlsmux.Live, TargetDuration: cfg.SegmentDuration,
		Window: cfg.PlaylistWindow, FirstSeq: 1, Video: true, FrameDuration: dur,
		Audio: &aac.Config{ObjectType: 2, SampleRate: 48000, Channels: 2},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Close()
	var audioPTS int64
	b.ResetTimer()
	for i := range b.N {
		lap := int64(i/len(pkts)) * int64(len(pkts)) * dur
		p := *pkts[i%len(pkts)]
		p.PTS += lap + media.ClockRate
		p.DTS += lap + media.ClockRate
		for audioPTS <= p.DTS {
			a := *audio
			a.PTS, a.DTS = audioPTS+media.ClockRate, audioPTS+media.ClockRate
			if err := seg.WriteAudio(&a); err != nil {
				b.Fatal(err)
			}
			audioPTS += audioDur
		}
		if err := seg.WriteVideo(&p); err != nil {
			b.Fatal(err)
		}
	}
}
