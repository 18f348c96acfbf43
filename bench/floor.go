package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/pipeline"
)

// Floor is the CPU a ladder cannot go below: one decode of the source, the
// scales that are needed, and each rendition's x264 encode, each measured
// alone with the settings the pipeline uses, on one thread: the cheapest
// way to do each part (threads trade CPU for wall time); and the audio:
// one decode, one resample and one AAC encode per distinct bitrate.
//
// The scales are the CLI's, each rendition from the source: the pipeline's
// cascade (scale.go) can go below them.
type Floor struct {
	Frames       int
	VideoSeconds float64
	Decode       time.Duration
	Scale        map[string]time.Duration
	Encode       map[string]time.Duration
	Audio        time.Duration
}

// Total is the sum of every part.
func (f Floor) Total() time.Duration {
	t := f.Decode + f.Audio
	for _, d := range f.Scale {
		t += d
	}
	for _, d := range f.Encode {
		t += d
	}
	return t
}

// MeasureFloor decodes path's video into memory, then scales and encodes it
// once per rendition of cfg's ladder, timing each part in CPU time.
func MeasureFloor(path string, cfg pipeline.Config) (Floor, error) {
	cfg = cfg.WithDefaults()
	fl := Floor{Scale: map[string]time.Duration{}, Encode: map[string]time.Duration{}}
	dmx, err := codec.OpenFile(path)
	if err != nil {
		return fl, err
	}
	defer dmx.Close()
	pkts, audio, err := readPackets(dmx)
	if err != nil {
		return fl, err
	}
	if dmx.Audio != nil {
		if fl.Audio, err = audioFloor(*dmx.Audio, audio, cfg); err != nil {
			return fl, err
		}
	}
	dec, err := codec.NewVideoDecoder(*dmx.Video, 1)
	if err != nil {
		return fl, err
	}
	defer dec.Close()
	// The timed decode releases each picture at once, as the pipeline does
	// (its buffers are recycled); a second, untimed decode keeps them all
	// for the scale and encode passes.
	drop := func(f *codec.Frame) error { f.Release(); return nil }
	t0 := CPUTime()
	if err := decodeAll(dec, pkts, drop); err != nil {
		return fl, err
	}
	fl.Decode = CPUTime() - t0
	dec.Close()
	if dec, err = codec.NewVideoDecoder(*dmx.Video, 1); err != nil {
		return fl, err
	}
	defer dec.Close()
	var frames []*codec.Frame
	defer func() {
		for _, f := range frames {
			f.Release()
		}
	}()
	if err := decodeAll(dec, pkts, func(f *codec.Frame) error { frames = append(frames, f); return nil }); err != nil {
		return fl, err
	}
	fl.Frames = len(frames)
	fr := dmx.Video.FrameRate
	fl.VideoSeconds = float64(len(frames)) / fr.Float()

	plan := pipeline.Plan(cfg.Ladder, dmx.Video.Width, dmx.Video.Height)
	for _, r := range plan {
		sc := codec.NewScaler(r.OutWidth, r.OutHeight)
		scaled := func(f *codec.Frame, fn func(*codec.Frame) error) error {
			if !codec.NeedsScaling(f, r.OutWidth, r.OutHeight) {
				return fn(f)
			}
			s, err := sc.Scale(f)
			if err != nil {
				return err
			}
			defer s.Release()
			return fn(s)
		}
		t0 := CPUTime()
		for _, f := range frames {
			if err := scaled(f, func(*codec.Frame) error { return nil }); err != nil {
				sc.Close()
				return fl, err
			}
		}
		fl.Scale[r.Name] = CPUTime() - t0

		enc, err := codec.NewVideoEncoder(codec.VideoEncoderConfig{
			Width: r.OutWidth, Height: r.OutHeight, FrameRate: fr,
			Bitrate: int(r.VideoBitrate), MaxRate: int(r.MaxRate), BufSize: int(r.BufSize),
			CRF: cfg.CRF, Preset: cfg.PresetOf(r.Rendition), Profile: cfg.Profile,
			GOP: pipeline.GOPFrames(cfg.KeyframeInterval, fr), Threads: 1,
		})
		if err != nil {
			sc.Close()
			return fl, err
		}
		drop := func(*media.Packet) error { return nil }
		t0 = CPUTime()
		for _, f := range frames {
			c := f.Clone()
			err := scaled(c, func(s *codec.Frame) error { return enc.Encode(s, drop) })
			c.Release()
			if err != nil {
				enc.Close()
				sc.Close()
				return fl, err
			}
		}
		if err := enc.Flush(drop); err != nil {
			return fl, fmt.Errorf("flush %s: %w", r.Name, err)
		}
		fl.Encode[r.Name] = CPUTime() - t0 - fl.Scale[r.Name]
		enc.Close()
		sc.Close()
	}
	return fl, nil
}

func decodeAll(dec *codec.Decoder, pkts []*media.Packet, emit func(*codec.Frame) error) error {
	for _, p := range pkts {
		if err := dec.Decode(p, emit); err != nil {
			return err
		}
	}
	return dec.Flush(emit)
}

// audioFloor decodes, resamples and encodes the audio packets once per
// distinct AAC bitrate of the ladder, as the pipeline does, and returns the
// CPU time it took.
func audioFloor(params media.AudioParams, pkts []*media.Packet, cfg pipeline.Config) (time.Duration, error) {
	t0 := CPUTime()
	dec, err := codec.NewAudioDecoder(params)
	if err != nil {
		return 0, err
	}
	defer dec.Close()
	var encs []*codec.AudioEncoder
	defer func() {
		for _, e := range encs {
			e.Close()
		}
	}()
	seen := map[pipeline.Bitrate]bool{}
	for _, r := range cfg.Ladder {
		if seen[r.AudioBitrate] {
			continue
		}
		seen[r.AudioBitrate] = true
		e, err := codec.NewAudioEncoder(int(r.AudioBitrate), cfg.AudioSampleRate, cfg.AudioChannels)
		if err != nil {
			return 0, err
		}
		encs = append(encs, e)
	}
	rs := codec.NewResampler(cfg.AudioSampleRate, cfg.AudioChannels, encs[0].FrameSize())
	defer rs.Close()
	drop := func(*media.Packet) error { return nil }
	encode := func(f *codec.Frame) error {
		defer f.Release()
		for _, e := range encs {
			if err := e.Encode(f, drop); err != nil {
				return err
			}
		}
		return nil
	}
	resample := func(f *codec.Frame) error {
		defer f.Release()
		return rs.Resample(f, encode)
	}
	if err := decodeAll(dec, pkts, resample); err != nil {
		return 0, err
	}
	if err := rs.Flush(encode); err != nil {
		return 0, err
	}
	for _, e := range encs {
		if err := e.Flush(drop); err != nil {
			return 0, err
		}
	}
	return CPUTime() - t0, nil
}

// readPackets reads the rest of dmx, split by kind.
func readPackets(dmx *codec.Demuxer) (video, audio []*media.Packet, err error) {
	for {
		p, err := dmx.ReadPacket()
		if errors.Is(err, io.EOF) {
			return video, audio, nil
		}
		if err != nil {
			return nil, nil, err
		}
		switch p.Kind {
		case media.Video:
			video = append(video, p)
		case media.Audio:
			audio = append(audio, p)
		}
	}
}
