package hlsmux

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// SegmenterConfig sets up one rendition's segmenter.
type SegmenterConfig struct {
	// Dir is the rendition's folder in the store ("720p"): segments are
	// Dir/<seq>.ts and the playlist Dir/index.m3u8.
	Dir   string
	Store Store
	Type  PlaylistType
	// TargetDuration: a segment is cut at the first keyframe at or after
	// it. Default 6 s.
	TargetDuration time.Duration
	// Window is the number of segments of a Live playlist. Default 10.
	Window int
	// FirstSeq is the first segment number (the caller passes the start
	// time in ms, so that a restarted stream never reuses a number).
	FirstSeq int64
	// Grace: a Live segment that left the window is deleted from the store
	// this long after. Default TargetDuration × Window.
	Grace time.Duration
	// Now is the clock (tests inject one). Default time.Now.
	Now func() time.Time
	// Video says there is an H.264 track; segments are cut on its keyframes.
	Video bool
	// Audio is the AAC track's config (nil: no audio). Raw AAC frames are
	// wrapped in ADTS with it.
	Audio *aac.Config
	// FrameDuration is one video frame in 90 kHz ticks: the last segment's
	// duration counts its last frame.
	FrameDuration int64
	// OnSegment, when set, is called after a segment and its playlist are
	// in the store.
	OnSegment func(SegmentInfo)
}

// Segmenter writes one rendition as MPEG-TS segments and its media
// playlist. It is used by one goroutine.
type Segmenter struct {
	cfg SegmenterConfig
	ts  *tsWriter
	pl  MediaPlaylist

	seq      int64
	started  bool  // the first video keyframe was seen (or, without video, the first audio frame)
	open     bool  // a segment is being written
	segStart int64 // PTS of the segment's first frame
	segEnd   int64 // end of its last frame, for the last segment's duration
	disc     bool  // the next segment starts after a discontinuity
	segDisc  bool  // the open segment does

	audio        audioQueue
	evicted      []evicted
	droppedVideo int
	closed       bool
}

type evicted struct {
	name string
	at   time.Time
}

// NewSegmenter returns a segmenter for cfg (with defaults filled).
func NewSegmenter(cfg SegmenterConfig) (*Segmenter, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("new segmenter for %q: no store", cfg.Dir)
	}
	if !cfg.Video && cfg.Audio == nil {
		return nil, fmt.Errorf("new segmenter for %q: no track", cfg.Dir)
	}
	if cfg.TargetDuration <= 0 {
		cfg.TargetDuration = 6 * time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 10
	}
	if cfg.Grace <= 0 {
		cfg.Grace = cfg.TargetDuration * time.Duration(cfg.Window)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FrameDuration <= 0 {
		cfg.FrameDuration = media.ClockRate / 30
	}
	if err := checkName(path.Join(cfg.Dir, "index.m3u8")); err != nil {
		return nil, fmt.Errorf("new segmenter: %w", err)
	}
	ts, err := newTSWriter(cfg.Video, cfg.Audio)
	if err != nil {
		return nil, fmt.Errorf("new segmenter for %q: %w", cfg.Dir, err)
	}
	return &Segmenter{
		cfg: cfg,
		ts:  ts,
		pl:  MediaPlaylist{Type: cfg.Type, TargetDuration: cfg.TargetDuration, Window: cfg.Window},
		seq: cfg.FirstSeq,
	}, nil
}

// WriteVideo adds one H.264 access unit in Annex B form, in DTS order.
// Packets before the first keyframe are dropped.
func (s *Segmenter) WriteVideo(p *media.Packet) error {
	if s.closed {
		return ErrClosed
	}
	if !s.cfg.Video {
		return fmt.Errorf("segmenter %s: video packet without a video track", s.cfg.Dir)
	}
	if !s.started {
		if !p.Keyframe {
			s.droppedVideo++
			return nil
		}
		s.started = true
		// Audio a little ahead of the first picture is kept (AAC's priming
		// frame starts 1024 samples early); older audio is dropped.
		s.audio.dropBefore(p.PTS - audioLead)
	}
	if s.open && p.Keyframe && p.PTS-s.segStart >= media.Ticks(s.cfg.TargetDuration) {
		if err := s.flushAudio(p.PTS); err != nil {
			return err
		}
		if err := s.cut(p.PTS); err != nil {
			return err
		}
	}
	if !s.open {
		s.begin(p.PTS)
	}
	if err := s.flushAudio(p.DTS); err != nil {
		return err
	}
	if err := s.ts.writeVideo(p); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	s.segEnd = max(s.segEnd, p.PTS+s.cfg.FrameDuration)
	return nil
}

// audioLead is how far before the first video frame audio is kept: one AAC
// frame at 44.1 kHz and more.
const audioLead = media.ClockRate / 20

// WriteAudio adds one raw AAC frame, in PTS order. With a video track it is
// queued and interleaved with the video by timestamp.
func (s *Segmenter) WriteAudio(p *media.Packet) error {
	if s.closed {
		return ErrClosed
	}
	if s.cfg.Audio == nil {
		return fmt.Errorf("segmenter %s: audio packet without an audio track", s.cfg.Dir)
	}
	if s.cfg.Video {
		s.audio.push(p)
		if s.audio.len() > maxQueuedAudio {
			// The video is far behind (or gone): write the oldest anyway,
			// or drop it before the first segment.
			if !s.open {
				s.audio.dropOldest()
				return nil
			}
			return s.writeAudio(s.audio.popOldest(1))
		}
		return nil
	}
	// Audio only: cut on time.
	if !s.started {
		s.started = true
	}
	if s.open && p.PTS-s.segStart >= media.Ticks(s.cfg.TargetDuration) {
		if err := s.cut(p.PTS); err != nil {
			return err
		}
	}
	if !s.open {
		s.begin(p.PTS)
	}
	s.segEnd = max(s.segEnd, p.PTS+s.audioFrameTicks())
	return s.writeAudio([]*media.Packet{p})
}

// maxQueuedAudio bounds the audio waiting for video: about 3 s at 48 kHz.
const maxQueuedAudio = 150

func (s *Segmenter) audioFrameTicks() int64 {
	return 1024 * media.ClockRate / int64(s.cfg.Audio.SampleRate)
}

// flushAudio writes the queued audio with PTS before limit.
func (s *Segmenter) flushAudio(limit int64) error {
	if n := s.audio.countBefore(limit); n > 0 {
		return s.writeAudio(s.audio.popOldest(n))
	}
	return nil
}

func (s *Segmenter) writeAudio(ps []*media.Packet) error {
	if err := s.ts.writeAudio(ps, s.cfg.Audio, !s.cfg.Video); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	return nil
}

// Discontinuity marks the next segment with EXT-X-DISCONTINUITY.
func (s *Segmenter) Discontinuity() { s.disc = true }

func (s *Segmenter) begin(pts int64) {
	s.open = true
	s.segDisc, s.disc = s.disc, false
	s.segStart = pts
	s.segEnd = pts
	s.ts.startSegment()
}

// cut ends the current segment at end (the PTS where the next one starts)
// and puts it and the playlist in the store.
func (s *Segmenter) cut(end int64) error {
	data := s.ts.endSegment()
	s.open = false
	info := SegmentInfo{
		Seq:           s.seq,
		Name:          strconv.FormatInt(s.seq, 10) + ".ts",
		Duration:      media.Duration(end - s.segStart),
		Size:          len(data),
		StartPTS:      s.segStart,
		Discontinuity: s.segDisc,
	}
	s.seq++
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, info.Name), data); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	now := s.cfg.Now()
	for _, e := range s.pl.Append(info) {
		s.evicted = append(s.evicted, evicted{name: e.Name, at: now})
	}
	if err := s.deleteExpired(now); err != nil {
		return err
	}
	if s.cfg.Type != VOD {
		if err := s.writePlaylist(); err != nil {
			return err
		}
	}
	if s.cfg.OnSegment != nil {
		s.cfg.OnSegment(info)
	}
	return nil
}

func (s *Segmenter) deleteExpired(now time.Time) error {
	n := 0
	for _, e := range s.evicted {
		if now.Sub(e.at) < s.cfg.Grace {
			break
		}
		if err := s.cfg.Store.Delete(path.Join(s.cfg.Dir, e.name)); err != nil {
			return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
		}
		n++
	}
	s.evicted = append(s.evicted[:0], s.evicted[n:]...)
	return nil
}

func (s *Segmenter) writePlaylist() error {
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, "index.m3u8"), s.pl.Encode()); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	return nil
}

// Close writes the queued audio, cuts the last segment and writes the
// playlist with EXT-X-ENDLIST. It is idempotent.
func (s *Segmenter) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.open {
		if n := s.audio.len(); n > 0 {
			if err := s.writeAudio(s.audio.popOldest(n)); err != nil {
				return err
			}
		}
		if err := s.cut(s.segEnd); err != nil {
			return err
		}
	}
	s.pl.End()
	return s.writePlaylist()
}

// Playlist is the media playlist; read it only after Close.
func (s *Segmenter) Playlist() *MediaPlaylist { return &s.pl }

// DroppedVideo is the number of video packets dropped before the first keyframe.
func (s *Segmenter) DroppedVideo() int { return s.droppedVideo }
