package live

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/h264"
	"github.com/livestream/livestream/pipeline"
	"github.com/livestream/livestream/relay"
)

// TwitchEncode is what Twitch gets instead of the published stream: its
// broadcast guidelines' 720p30 (1280×720, 30 fps, 3500 kbit/s CBR-like with
// a 2 s keyframe interval), so that viewers without transcoding options get
// a stream every player can take. Audio is copied.
var TwitchEncode = pipeline.TapConfig{
	Name: "twitch", Width: 1280, Height: 720, MaxFrameRate: media.Rational{Num: 30, Den: 1},
	Bitrate: 3_500_000, MaxRate: 3_750_000, BufSize: 4_200_000,
	KeyframeInterval: 2 * time.Second, Preset: "veryfast",
}

// maxPendingAudio bounds the audio an encoded relay holds while it waits for
// the video of the same time (the encoder's delay, well under a second):
// about 5 s of AAC. Beyond it the oldest is sent (or, before the first
// keyframe, dropped) so that a stalled encoder costs no memory.
const maxPendingAudio = 256

// encodedRelay relays a re-encode of the stream: video from a pipeline tap
// (sharing the ladder's decode), audio as published. The relay proper starts
// at the first encoded keyframe, when the encoder's SPS and PPS are known.
// Audio arrives from the publisher ahead of the video of the same time,
// which the encoder delays; it waits in pending and is interleaved by DTS.
type encodedRelay struct {
	cfg    relay.Config
	public string // scheme://host[:port] of cfg.URL
	audio  *media.AudioParams
	log    *slog.Logger
	tap    *pipeline.Tap

	mu       sync.Mutex
	r        *relay.Relay // nil until the first keyframe
	pending  []*media.Packet
	closed   bool
	startErr string
	dropped  atomic.Int64 // audio packets the wait list could not keep
}

// startEncoded adds a tap of enc to g and relays its output with the
// stream's audio to cfg's destination.
func startEncoded(g *pipeline.Graph, enc pipeline.TapConfig, cfg relay.Config, audio *media.AudioParams) (*encodedRelay, error) {
	public, err := relay.Check(cfg.URL)
	if err != nil {
		return nil, err
	}
	e := &encodedRelay{cfg: cfg, public: public, audio: audio, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	enc.Emit = e.writeVideo
	tap, err := g.AddTap(enc)
	if err != nil {
		return nil, err
	}
	e.tap = tap
	return e, nil
}

// WritePacket takes the stream's audio; its video is the tap's business.
// A Break of a new publish brings its audio headers, which go out between
// the old publish's audio and the new one's.
func (e *encodedRelay) WritePacket(p *media.Packet) {
	if e.audio == nil {
		return
	}
	if p.Kind == media.Break {
		if p.Params == nil || p.Params.Audio == nil {
			return
		}
		p = &media.Packet{Kind: media.Break, Params: &media.Params{Audio: p.Params.Audio}}
	} else if p.Kind != media.Audio {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if p.Kind == media.Break {
		if e.r == nil && len(e.pending) == 0 {
			e.audio = p.Params.Audio // not started yet: the first headers are the new ones
			return
		}
		if n := len(e.pending); n > 0 {
			p.DTS = e.pending[n-1].DTS // in order with the audio around it
		}
	}
	e.pending = append(e.pending, p)
	if len(e.pending) > maxPendingAudio {
		old := e.pending[0]
		e.pending = e.pending[1:]
		if e.r != nil {
			e.r.WritePacket(old)
		} else {
			e.dropped.Add(1)
		}
	}
}

// writeVideo receives the tap's Annex B packets.
func (e *encodedRelay) writeVideo(p *media.Packet) {
	nals, err := h264.SplitAnnexB(p.Data)
	if err != nil {
		e.log.Warn("encoded relay: unreadable packet from the encoder", "err", err)
		return
	}
	var sps, pps, rest [][]byte
	for _, n := range nals {
		switch h264.NALType(n) {
		case h264.NALTypeAUD:
		case h264.NALTypeSPS:
			sps = append(sps, n)
		case h264.NALTypePPS:
			pps = append(pps, n)
		default:
			rest = append(rest, n)
		}
	}
	q := *p
	q.Data = h264.AppendAVCC(nil, rest...)

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.r == nil {
		if !p.Keyframe || len(sps) == 0 || len(pps) == 0 {
			return
		}
		if err := e.start(sps, pps); err != nil {
			e.startErr = err.Error()
			e.log.Error("encoded relay not started", "err", err)
			e.closed = true
			return
		}
		// Audio from before the first picture has nothing to go with (a
		// copy relay starts at a keyframe too): left out, not counted.
		i := 0
		for i < len(e.pending) && e.pending[i].DTS < q.DTS {
			i++
		}
		e.pending = e.pending[i:]
	}
	i := 0
	for i < len(e.pending) && e.pending[i].DTS <= q.DTS {
		e.r.WritePacket(e.pending[i])
		i++
	}
	e.pending = e.pending[i:]
	e.r.WritePacket(&q)
}

// start starts the relay with the encoder's parameter sets.
func (e *encodedRelay) start(sps, pps [][]byte) error {
	if len(sps[0]) < 4 {
		return fmt.Errorf("SPS of %d bytes", len(sps[0]))
	}
	rec, err := (&h264.AVCConfig{Profile: sps[0][1], ProfileCompat: sps[0][2], Level: sps[0][3],
		LengthSize: 4, SPS: sps, PPS: pps}).Marshal()
	if err != nil {
		return err
	}
	w, h := e.tap.Size()
	v := &media.VideoParams{Codec: media.H264, Width: w, Height: h, FrameRate: e.tap.FrameRate(), Extradata: rec}
	r, err := relay.Start(e.cfg, v, e.audio)
	if err != nil {
		return err
	}
	e.r = r
	return nil
}

// finish waits up to d for the encoder's last frames, once the stream's
// input has ended (the tap flushes x264 on its own then).
func (e *encodedRelay) finish(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.tap.Done():
	case <-t.C:
	}
}

// Close stops the encode and the relay.
func (e *encodedRelay) Close() {
	e.tap.Close()
	e.mu.Lock()
	e.closed = true
	r := e.r
	e.pending = nil
	e.mu.Unlock()
	if r != nil {
		r.Close()
	}
}

// Status is the relay's, with the pictures the encoder could not take
// (its queue was full) and the audio that came before the first picture
// counted as dropped.
func (e *encodedRelay) Status() relay.Status {
	e.mu.Lock()
	r, startErr, closed := e.r, e.startErr, e.closed
	e.mu.Unlock()
	var st relay.Status
	switch {
	case r != nil:
		st = r.Status()
	default:
		st = relay.Status{Kind: e.cfg.Kind, State: relay.Connecting, LastError: startErr, Destination: e.public}
		if closed {
			st.State = relay.Stopped
		}
		if err := e.tap.Err(); err != nil {
			st.LastError = err.Error()
		}
	}
	st.Dropped += e.tap.Dropped() + e.dropped.Load()
	st.Transcoded = true
	return st
}
