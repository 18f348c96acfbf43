package hlsmux

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4"
	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
	"github.com/livestream/livestream/media/h264"
)

// The boxes are written by mediacommon's fmp4 (on abema/go-mp4), the
// library MediaMTX's LL-HLS muxer uses: one moof+mdat per part, and a
// segment is its parts one after the other (RFC 8216bis §3.1.2: a
// Partial Segment is a subset of its Parent Segment's bytes, so players
// may fetch either).
const (
	trackVideo = 1
	trackAudio = 2
	// timeOffset is added to every decode time, since tfdt is unsigned and
	// a stream's first DTS is negative behind B-frames (x264 starts it
	// two frames before the first PTS).
	timeOffset = 10 * media.ClockRate
	// aacFrameSamples is an AAC-LC frame's length in samples.
	aacFrameSamples = 1024
	minPTS          = -1 << 62
)

// fmp4Writer writes one rendition as CMAF fragments: an init section
// for each change of H.264 parameter sets, and one moof+mdat per part.
//
// A video sample's duration is the next one's DTS less its own, so the
// newest picture waits (pending) until the next arrives, or the part is
// settled with a known end.
type fmp4Writer struct {
	video bool
	audio *aac.Config
	// frameDur ends a pending picture that has no successor.
	frameDur int64

	// shift moves decode times later by the first keyframe's composition
	// offset (x264's B-frame delay), so that a keyframe's decode time is
	// its presentation time: a fragment that starts with one then starts
	// (tfdt) where it is shown, as players that place fragments by their
	// first PTS (hls.js) and the playlist's part boundaries agree.
	// Presentation times do not move; B-frames get negative composition
	// offsets (trun version 1), as CMAF allows.
	shift   int64
	shifted bool

	sps, pps  []byte // of the current init section
	newInit   bool   // sps/pps changed: the next segment needs a new init section
	seqNumber uint32 // mfhd sequence number of the next fragment

	pending    *fmp4.Sample
	pendingDTS int64
	pendingPTS int64
	videoBase  int64 // DTS of the part's first picture
	videoSamps []*fmp4.Sample
	audioBase  int64 // the part's first audio frame, in samples
	// audioNext is where the last audio frame ended, in samples.
	audioNext    int64
	audioNextSet bool
	audioSamps   []*fmp4.Sample
	independent  bool  // the part's first picture is a keyframe
	maxPTS       int64 // the largest PTS in the part, when it has any

	seg     []byte // the open segment: its parts so far
	lastLen int    // the previous segment's size, to size the next buffer
	buf     seekablebuffer.Buffer
}

func newFMP4Writer(video bool, audio *aac.Config, frameDur int64) (*fmp4Writer, error) {
	if audio != nil {
		if _, err := audioSpecificConfig(*audio); err != nil {
			return nil, err
		}
	}
	// Without video no SPS announces the init section: it is due at once.
	return &fmp4Writer{video: video, audio: audio, frameDur: frameDur, seqNumber: 1, maxPTS: minPTS, newInit: !video}, nil
}

func audioSpecificConfig(c aac.Config) (mpeg4audio.AudioSpecificConfig, error) {
	n := c.Channels
	if n == 7 { // channel configuration 7 is 7.1
		n = 8
	}
	asc := mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectType(c.ObjectType), SampleRate: c.SampleRate, ChannelCount: n}
	if _, err := asc.Marshal(); err != nil {
		return asc, fmt.Errorf("AAC config for fMP4: %w", err)
	}
	return asc, nil
}

// init returns the init section for the current parameter sets.
func (w *fmp4Writer) init() ([]byte, error) {
	var in fmp4.Init
	if w.video {
		if w.sps == nil {
			return nil, errors.New("init section: no SPS/PPS seen")
		}
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: trackVideo, TimeScale: media.ClockRate,
			Codec: &mp4.CodecH264{SPS: w.sps, PPS: w.pps}})
	}
	if w.audio != nil {
		asc, err := audioSpecificConfig(*w.audio)
		if err != nil {
			return nil, err
		}
		in.Tracks = append(in.Tracks, &fmp4.InitTrack{ID: trackAudio, TimeScale: uint32(w.audio.SampleRate),
			Codec: &mp4.CodecMPEG4Audio{Config: asc}})
	}
	w.buf.Reset()
	if err := in.Marshal(&w.buf); err != nil {
		return nil, fmt.Errorf("write init section: %w", err)
	}
	return bytes.Clone(w.buf.Bytes()), nil
}

// startSegment begins a segment (its first part begins with it) in a
// new buffer sized from the last (the store keeps the old one).
func (w *fmp4Writer) startSegment() {
	w.seg = make([]byte, 0, w.lastLen+w.lastLen/4+4096)
}

// settle ends the pending picture at next, the DTS of the picture after
// it (a guess of one frame when next does not follow it plausibly, as
// across a discontinuity), and adds it to the open part.
func (w *fmp4Writer) settle(next int64) {
	if w.pending == nil {
		return
	}
	d := next - w.pendingDTS
	if d <= 0 || d > 10*w.frameDur {
		d = w.frameDur
	}
	w.pending.Duration = uint32(d)
	if len(w.videoSamps) == 0 {
		w.videoBase = w.pendingDTS
		w.independent = !w.pending.IsNonSyncSample
	}
	w.videoSamps = append(w.videoSamps, w.pending)
	w.maxPTS = max(w.maxPTS, w.pendingPTS)
	w.pending = nil
}

// settleLast ends the pending picture with one frame's duration.
func (w *fmp4Writer) settleLast() { w.settle(w.pendingDTS + w.frameDur) }

// writeVideo holds the picture p (Annex B) until the next is known. A
// keyframe's SPS and PPS go to the init section and leave the sample, as
// do access unit delimiters (avc1: parameter sets live in the sample entry).
func (w *fmp4Writer) writeVideo(p *media.Packet) error {
	nals, err := h264.SplitAnnexB(p.Data)
	if err != nil {
		return fmt.Errorf("video at DTS %d: %w", p.DTS, err)
	}
	var sps, pps []byte
	payload := make([]byte, 0, len(p.Data)+4*len(nals))
	for _, n := range nals {
		switch h264.NALType(n) {
		case 7:
			sps = n
		case 8:
			pps = n
		case 9: // access unit delimiter
		default:
			payload = h264.AppendAVCC(payload, n)
		}
	}
	if sps != nil && pps != nil && (!bytes.Equal(sps, w.sps) || !bytes.Equal(pps, w.pps)) {
		w.sps, w.pps = bytes.Clone(sps), bytes.Clone(pps)
		w.newInit = true
	}
	if !w.shifted && p.Keyframe {
		w.shift, w.shifted = p.PTS-p.DTS, true
	}
	w.settle(p.DTS)
	w.pending = &fmp4.Sample{PTSOffset: int32(p.PTS - p.DTS - w.shift), IsNonSyncSample: !p.Keyframe, Payload: payload}
	w.pendingDTS, w.pendingPTS = p.DTS, p.PTS
	return nil
}

// writeAudio adds raw AAC frames to the open part, on a timeline without
// holes: a frame within audioSnap of where the last one ended is placed
// there, and a longer gap inside a part is covered by the frame before
// it. A player appending fMP4 as it is (hls.js, Safari) would otherwise
// find a hole of a few ms in its buffer wherever the encoder's frames are
// not back to back (a publisher's reconnect, the slate's silence), and
// stall on it; MPEG-TS players fill such holes themselves.
func (w *fmp4Writer) writeAudio(frames []*media.Packet) error {
	snap := int64(audioSnapFrames * aacFrameSamples)
	for _, f := range frames {
		t := (f.PTS + timeOffset) * int64(w.audio.SampleRate) / media.ClockRate
		if w.audioNextSet {
			if d := t - w.audioNext; d <= snap || len(w.audioSamps) > 0 {
				// Back to back, never back in time; a long gap inside
				// the part stretches the frame before it.
				if d > 0 && len(w.audioSamps) > 0 {
					w.audioSamps[len(w.audioSamps)-1].Duration += uint32(d)
					t = w.audioNext + d
				} else {
					t = w.audioNext
				}
			}
		}
		if len(w.audioSamps) == 0 {
			w.audioBase = t
		}
		if !w.video {
			w.maxPTS = max(w.maxPTS, f.PTS)
		}
		w.audioSamps = append(w.audioSamps, &fmp4.Sample{Duration: aacFrameSamples, Payload: f.Data})
		w.audioNext, w.audioNextSet = t+aacFrameSamples, true
	}
	return nil
}

// audioSnapFrames is how far (in AAC frames, ~21 ms each at 48 kHz) a
// part's first audio frame may be from where the audio before it ended
// and still be placed back to back with it: audio and video stay within
// that of each other; a larger gap between parts stays a gap.
const audioSnapFrames = 2

// newTimeline forgets where the audio ended: what follows a
// discontinuity starts its own timeline.
func (w *fmp4Writer) newTimeline() { w.audioNextSet = false }

// endPart writes the open part's samples as one fragment, appends it to
// the open segment and returns it, with whether it begins with a
// keyframe and its duration in ticks; nil when it holds nothing. The
// pending picture must have been settled (it stays for the next part
// otherwise).
func (w *fmp4Writer) endPart() (data []byte, independent bool, dur int64, err error) {
	if len(w.videoSamps) == 0 && len(w.audioSamps) == 0 {
		return nil, false, 0, nil
	}
	part := fmp4.Part{SequenceNumber: w.seqNumber}
	if len(w.videoSamps) > 0 {
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: trackVideo, BaseTime: uint64(max(w.videoBase+w.shift+timeOffset, 0)), Samples: w.videoSamps})
		for _, s := range w.videoSamps {
			dur += int64(s.Duration)
		}
		// The part's last picture lasts one tick (11 µs) longer than the
		// playlist says, overlapping the next part's first by as much.
		// Chromium reports buffered media ends in whole microseconds,
		// rounded down: a part ending exactly where the playlist puts its
		// end shows as ending a microsecond short of it, and hls.js then
		// waits for the part it has (after a rendition switch), or never
		// sees the stream's end. The next part's decode time (tfdt) is
		// its own, so nothing drifts.
		w.videoSamps[len(w.videoSamps)-1].Duration++
	}
	if len(w.audioSamps) > 0 {
		part.Tracks = append(part.Tracks, &fmp4.PartTrack{ID: trackAudio, BaseTime: uint64(max(w.audioBase, 0)), Samples: w.audioSamps})
		if len(w.videoSamps) == 0 {
			dur = int64(len(w.audioSamps)) * aacFrameSamples * media.ClockRate / int64(w.audio.SampleRate)
		}
	}
	w.buf.Reset()
	if err := part.Marshal(&w.buf); err != nil {
		return nil, false, 0, fmt.Errorf("write fragment: %w", err)
	}
	w.seqNumber++
	// The part is a slice of the segment's bytes, capped so that nothing
	// appended after it can reach it: a part costs no memory of its own
	// while the segment's buffer does not grow.
	start := len(w.seg)
	w.seg = append(w.seg, w.buf.Bytes()...)
	data = w.seg[start:len(w.seg):len(w.seg)]
	independent = w.independent || len(w.videoSamps) == 0
	w.videoSamps, w.audioSamps = nil, nil
	w.independent = false
	w.maxPTS = minPTS
	return data, independent, dur, nil
}

// endSegment returns the open segment's bytes (the caller ended its last
// part), which the caller now owns.
func (w *fmp4Writer) endSegment() []byte {
	b := w.seg
	w.seg = nil
	w.lastLen = len(b)
	return b
}
