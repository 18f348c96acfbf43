package hlsmux

import (
	"github.com/livestream/livestream/media"
)

// An LL-HLS part is listed as soon as its last picture is written, rather
// than when the picture after it comes: that picture is one frame
// interval later at the encoder's input, and then as long again as the
// encoder takes, which is most of a part's latency beyond the encoder's
// own delay. A part is known to be complete when the picture after its
// last, expected one frame later (the pipeline's pictures come on a
// frame grid), would not fit in it; its audio must reach its end, so the
// cut waits for that audio when the audio encoder is behind.
//
// At a possible segment cut the picture after it starts the next segment
// if it is a keyframe, and the preload hint must name the part that will
// come: the keyframe clock (KeyframeInterval from the first keyframe, as
// the pipeline forces them) says whether it is. Without a keyframe clock
// those parts are cut when the picture after them comes, as before.

// earlyCut is a part cut decided when its last picture was written.
type earlyCut struct {
	due bool
	// next is the DTS of the picture expected after the part's last, where
	// the next part starts; limit is where the part's media ends (next,
	// shifted as the fMP4 writer shifts decode times).
	next, limit int64
	end         partEnd
}

// planEarlyCut cuts the open part after p, its newest picture, when the
// picture after p would make the part longer than the part target; the
// cut waits for the audio up to the part's end when that is not queued.
func (s *Segmenter) planEarlyCut(p *media.Packet) error {
	if s.part == 0 || !s.cfg.Video || !s.open || !s.started {
		return nil
	}
	fd := s.cfg.FrameDuration
	next := p.DTS + fd
	if next-s.partStart+fd <= s.part {
		return nil
	}
	keyPTS := next + s.fm.shift // where the next picture shows, if a keyframe
	end := partListed
	if keyPTS-s.segStart >= s.target {
		if s.cfg.KeyframeInterval <= 0 {
			return nil
		}
		if s.keyframeDue(keyPTS) {
			end = partBeforeKeyframe
		}
	}
	s.early = earlyCut{due: true, next: next, limit: keyPTS, end: end}
	return s.cutEarlyIfHeard()
}

// cutEarlyIfHeard makes the due early cut once the queued audio reaches
// the part's end (at once without audio).
func (s *Segmenter) cutEarlyIfHeard() error {
	if !s.early.due {
		return nil
	}
	if s.cfg.Audio != nil {
		n := s.audio.len()
		if n == 0 || s.audio.at(n-1).PTS+s.audioFrameTicks() < s.early.limit {
			return nil
		}
	}
	e := s.early
	s.early.due = false
	if err := s.writeAudioBefore(e.limit, e.limit); err != nil {
		return err
	}
	s.fm.settleLast()
	err := s.cutPart(e.end)
	s.partStart = e.next
	return err
}

// keyframeDue reports whether the keyframe clock puts a keyframe on the
// picture shown at pts: the first picture at or past each multiple of
// KeyframeInterval after the timeline's first keyframe, a quarter frame
// early counting as on time (pipeline's keyClock).
func (s *Segmenter) keyframeDue(pts int64) bool {
	if !s.keyAnchored {
		return false
	}
	iv := media.Ticks(s.cfg.KeyframeInterval)
	slack := s.cfg.FrameDuration / 4
	at := pts + slack - s.keyAnchor
	return floorDiv(at, iv) > floorDiv(at-s.cfg.FrameDuration, iv)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
