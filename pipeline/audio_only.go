package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"golang.org/x/sync/errgroup"
)

// AudioOnlyName is the one rendition of a stream without video (a radio
// show, a podcast): its folder is "audio/" next to the master playlist.
const AudioOnlyName = "audio"

// AudioOnlyCodecs is the audio-only variant's RFC 6381 codecs: AAC-LC,
// what the audio path always encodes (MP3 input included: HLS players want
// AAC in TS).
const AudioOnlyCodecs = "mp4a.40.2"

// AudioOnlyBandwidth is the BANDWIDTH the master playlist announces for an
// audio-only rendition of AAC at rate, MPEG-TS included.
func AudioOnlyBandwidth(rate Bitrate) int { return int(rate) * audioTSOverhead / 100 }

// NewAudioOnly plans the graph of a stream without video: the ladder's
// audio path alone, decoding once (AAC or MP3) and encoding AAC once, at
// the ladder's highest audio bitrate, into one rendition named
// AudioOnlyName whose segments are cut on time (cfg.SegmentDuration),
// there being no keyframes. cfg gets its defaults and is validated, as in
// New. The graph has no video: its FrameRate is zero, AddTap fails with
// ErrAudioOnly, and its Stats count AAC frames as the rendition's Encoded.
func NewAudioOnly(cfg Config, audio media.AudioParams, out Output) (*Graph, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	if out.Store == nil {
		return nil, errors.New("pipeline output: no store")
	}
	if out.Master == "" {
		out.Master = "live.m3u8"
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	var rate Bitrate
	for _, r := range cfg.Ladder {
		rate = max(rate, r.AudioBitrate)
	}
	g := &Graph{cfg: cfg, in: Input{Audio: &audio}, out: out, log: out.Logger, audioOnly: true}
	g.planned = []Planned{{Rendition: Rendition{Name: AudioOnlyName, AudioBitrate: rate}}}
	g.audioCfg = &aac.Config{ObjectType: 2, SampleRate: cfg.AudioSampleRate, Channels: cfg.AudioChannels}
	g.audioRates, g.audioOf = []Bitrate{rate}, []int{0}
	g.encoded = make([]atomic.Int64, 1)
	g.segCount = make([]atomic.Int64, 1)
	g.master = newMasterWriter(g)
	return g, nil
}

// AudioOnly reports whether the graph has no video (NewAudioOnly).
func (g *Graph) AudioOnly() bool { return g.audioOnly }

// runAudioOnly is Run for a graph without video: route → the audio path →
// the one audio rendition.
func (g *Graph) runAudioOnly(ctx context.Context, eg *errgroup.Group, in <-chan *media.Packet) {
	// Policies as in Run: every edge blocks, so the AAC encoder paces the
	// decode and the input pushes back on its sender.
	audioIn := make(chan *media.Packet, 32)
	audioOut := make(chan *media.Packet, 64)
	eg.Go(func() error { return g.route(ctx, in, nil, audioIn) })
	eg.Go(func() error { return g.runAudio(ctx, audioIn, []chan *media.Packet{audioOut}) })
	r, err := g.newAudioRendition(audioOut)
	if err != nil {
		eg.Go(func() error { drainPackets(audioOut); return err })
		return
	}
	g.audioRend = r
	eg.Go(func() error { return r.Run(ctx) })
}

// audioRendition is the goroutine of an audio-only stream's rendition: it
// alone owns its segmenter, which cuts on time.
type audioRendition struct {
	g     *Graph
	in    <-chan *media.Packet
	seg   *hlsmux.Segmenter
	first bool // a packet was written: the master is out
}

func (g *Graph) newAudioRendition(in <-chan *media.Packet) (*audioRendition, error) {
	cfg := g.segmenterConfig(AudioOnlyName)
	cfg.Audio = g.audioCfg
	cfg.OnSegment = func(s hlsmux.SegmentInfo) {
		g.segCount[0].Add(1)
		if g.out.OnSegment != nil {
			g.out.OnSegment(AudioOnlyName, s)
		}
	}
	seg, err := hlsmux.NewSegmenter(cfg)
	if err != nil {
		return nil, fmt.Errorf("rendition %s: %w", AudioOnlyName, err)
	}
	return &audioRendition{g: g, in: in, seg: seg}, nil
}

// Run writes the AAC packets until its input is closed, then closes the
// segmenter (last segment, ENDLIST). On cancellation it returns ctx.Err().
func (r *audioRendition) Run(ctx context.Context) error {
	defer drainPackets(r.in)
	for {
		select {
		case p, ok := <-r.in:
			if !ok {
				if err := r.seg.Close(); err != nil {
					return fmt.Errorf("rendition %s: %w", AudioOnlyName, err)
				}
				return nil
			}
			if !r.first {
				// The codecs are known from the start; the master waits
				// for the first packet as a video ladder's waits for its
				// first IDR, so it never names a rendition with nothing.
				r.first = true
				r.g.master.setCodecString(0, AudioOnlyCodecs)
			}
			r.g.encoded[0].Add(1)
			if err := r.seg.WriteAudio(p); err != nil {
				return fmt.Errorf("rendition %s: %w", AudioOnlyName, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// audioTSOverhead is the announced bandwidth of the audio-only variant in
// percent of its AAC bitrate. MPEG-TS costs audio more than video: ADTS
// headers (7 bytes a frame), a PES header and a PCR every ~100 ms, and the
// padding of each PES's last TS packet. Measured on 128 kbit/s AAC
// (TestAudioOnlyGraph): segments peak at 144 kbit/s, 12.4 % over; RFC 8216
// §4.3.4.2 wants BANDWIDTH at or above the peak.
const audioTSOverhead = 120
