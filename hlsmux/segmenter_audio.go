package hlsmux

import (
	"fmt"

	"github.com/livestream/livestream/media"
)

// maxAudioAhead bounds the audio waiting for the video: the AAC encoder has
// almost no delay and x264 a lookahead, so audio arrives up to ~0.5 s ahead
// of the video of the same time. Beyond 3 s the video is stalled or gone,
// and the oldest audio is written anyway (dropped before the first keyframe).
const maxAudioAhead = 3 * media.ClockRate

// audioQueue holds audio frames in PTS order. It reuses its array: popping
// moves a head index, and pushing compacts when the array is full.
type audioQueue struct {
	q    []*media.Packet
	head int
}

func (a *audioQueue) push(p *media.Packet) {
	if a.head > 0 && len(a.q) == cap(a.q) {
		n := copy(a.q, a.q[a.head:])
		clear(a.q[n:])
		a.q, a.head = a.q[:n], 0
	}
	a.q = append(a.q, p)
}

func (a *audioQueue) len() int { return len(a.q) - a.head }

func (a *audioQueue) at(i int) *media.Packet { return a.q[a.head+i] }

// oldest returns the n oldest frames; valid until the queue changes.
func (a *audioQueue) oldest(n int) []*media.Packet { return a.q[a.head : a.head+n] }

// drop removes the n oldest frames.
func (a *audioQueue) drop(n int) {
	clear(a.q[a.head : a.head+n])
	a.head += n
	if a.head == len(a.q) {
		a.q, a.head = a.q[:0], 0
	}
}

// dropBefore drops the frames with PTS before limit and returns how many.
func (a *audioQueue) dropBefore(limit int64) int {
	n := 0
	for n < a.len() && a.at(n).PTS < limit {
		n++
	}
	a.drop(n)
	return n
}

// writeAudioBefore writes every queued frame with PTS before limit, in
// PESs of up to audioPerPES frames. A PES that starts before limit may take
// the frames after it that are before extend (>= limit): those known to
// belong to the open segment.
func (s *Segmenter) writeAudioBefore(limit, extend int64) error {
	extend = max(extend, limit)
	for s.audio.len() > 0 && s.audio.at(0).PTS < limit {
		n := 1
		for n < min(s.audio.len(), s.audioBatch()) && s.audio.at(n).PTS < extend {
			n++
		}
		if err := s.writeAudioFrames(n); err != nil {
			return err
		}
	}
	return nil
}

// writeAudioFrames writes the n oldest queued frames into the open segment
// and removes them from the queue.
func (s *Segmenter) writeAudioFrames(n int) error {
	for n > 0 {
		k := min(n, s.audioBatch())
		var err error
		if s.fm != nil {
			err = s.fm.writeAudio(s.audio.oldest(k))
		} else {
			err = s.ts.writeAudio(s.audio.oldest(k), s.cfg.Audio)
		}
		s.audio.drop(k)
		if err != nil {
			return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
		}
		n -= k
	}
	return nil
}

// boundAudio writes the queued audio more than maxAudioAhead older than the
// newest frame, or drops it when no keyframe has started the timeline yet
// (none at all, or none since a discontinuity).
func (s *Segmenter) boundAudio() error {
	newest := s.audio.at(s.audio.len() - 1).PTS
	if newest-s.audio.at(0).PTS <= maxAudioAhead {
		return nil
	}
	limit := newest - maxAudioAhead
	if !s.open || !s.started {
		s.droppedAudio += s.audio.dropBefore(limit)
		return nil
	}
	return s.writeAudioBefore(limit, limit)
}

// audioFrameTicks is the duration of one AAC frame (1024 samples).
func (s *Segmenter) audioFrameTicks() int64 {
	return 1024 * media.ClockRate / int64(s.cfg.Audio.SampleRate)
}

// audioBatch is how many audio frames are written at once: a TS PES's
// worth; fMP4 frames are samples of a part, written as they come.
func (s *Segmenter) audioBatch() int {
	if s.fm != nil {
		return 1
	}
	return s.ts.audioPerPES
}
