package hlsmux

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/livestream/livestream/media"
	"github.com/livestream/livestream/media/aac"
)

// SegmenterConfig sets up one rendition's segmenter. Zero fields take the
// defaults named.
type SegmenterConfig struct {
	// Dir is the rendition's folder in the store ("720p"): segments are
	// Dir/<seq>.ts and the playlist Dir/index.m3u8.
	Dir   string
	Store Store
	// Type is Live (sliding window), Event or VOD (playlist written at Close).
	Type PlaylistType
	// TargetDuration: a segment is cut at the first keyframe whose PTS is at
	// least this far after the segment's start. Default 6 s.
	TargetDuration time.Duration
	// Window is the number of segments a Live playlist lists. Default 10.
	Window int
	// FirstSeq is the first segment number (the caller passes the start
	// time in ms, so that a restarted stream never reuses a number).
	FirstSeq int64
	// Continues: the segments continue a stream another segmenter wrote
	// (another server of a cluster, after its publisher moved here): the
	// first is marked EXT-X-DISCONTINUITY, and DiscontinuitySequence
	// counts the discontinuities of that stream before it.
	Continues             bool
	DiscontinuitySequence int
	// Grace: a Live segment that left the window is deleted from the store
	// this long after (checked at each cut). Default TargetDuration × Window.
	Grace time.Duration
	// Now is the clock (tests inject one). Default time.Now.
	Now func() time.Time
	// Video says there is an H.264 track; segments are cut on its keyframes.
	Video bool
	// Audio is the AAC track's config (nil: no audio). Raw AAC frames are
	// wrapped in ADTS with it.
	Audio *aac.Config
	// FrameDuration is one video frame in 90 kHz ticks: the last segment
	// (and one before a discontinuity) lasts until its last frame ends.
	// Default 3000 (30 fps).
	FrameDuration int64
	// OnSegment, when set, is called after a segment and its playlist are
	// in the store, on the goroutine that wrote the packet.
	OnSegment func(SegmentInfo)
}

// Segmenter writes one rendition as MPEG-TS segments and its media playlist
// into a Store. It is not safe for concurrent use: one goroutine owns it.
type Segmenter struct {
	cfg    SegmenterConfig
	ts     *tsWriter
	pl     MediaPlaylist
	target int64 // TargetDuration in ticks

	seq      int64
	started  bool  // a keyframe began the current timeline (audio-only: a frame did)
	open     bool  // a segment is being written
	segStart int64 // PTS of the segment's first frame
	segEnd   int64 // where its last frame ends, for a segment not followed by its timeline
	disc     bool  // the next segment starts after a discontinuity
	segDisc  bool  // the open segment does
	err      error // from Discontinuity, returned by the next call that has none

	audio        audioQueue
	evicted      []evicted
	droppedVideo int
	droppedAudio int
	closed       bool
	closeErr     error
}

type evicted struct {
	name string
	at   time.Time
}

// NewSegmenter returns a segmenter for cfg. Nothing is written to the store
// until the first segment is cut.
func NewSegmenter(cfg SegmenterConfig) (*Segmenter, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("new segmenter for %q: no store", cfg.Dir)
	}
	if !cfg.Video && cfg.Audio == nil {
		return nil, fmt.Errorf("new segmenter for %q: neither video nor audio", cfg.Dir)
	}
	if cfg.Type < Live || cfg.Type > VOD {
		return nil, fmt.Errorf("new segmenter for %q: playlist type %d", cfg.Dir, cfg.Type)
	}
	if cfg.Audio != nil {
		// Fail here rather than on the first frame.
		if _, err := aac.AppendADTS(nil, *cfg.Audio, nil); err != nil {
			return nil, fmt.Errorf("new segmenter for %q: %w", cfg.Dir, err)
		}
	}
	if err := checkName(path.Join(cfg.Dir, playlistName)); err != nil {
		return nil, fmt.Errorf("new segmenter: %w", err)
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
	ts, err := newTSWriter(cfg.Video, cfg.Audio)
	if err != nil {
		return nil, fmt.Errorf("new segmenter for %q: %w", cfg.Dir, err)
	}
	s := &Segmenter{
		cfg:    cfg,
		ts:     ts,
		pl:     MediaPlaylist{Type: cfg.Type, TargetDuration: cfg.TargetDuration, Window: cfg.Window, discSeq: cfg.DiscontinuitySequence},
		target: media.Ticks(cfg.TargetDuration),
		seq:    cfg.FirstSeq,
	}
	if cfg.Continues {
		s.Discontinuity()
	}
	return s, nil
}

const playlistName = "index.m3u8"

// WriteVideo adds one H.264 access unit in Annex B form; packets come in
// DTS order. Packets before the first keyframe (and between a
// Discontinuity and the next keyframe) are dropped and counted. The
// segmenter keeps no reference to p or its data once it returns.
func (s *Segmenter) WriteVideo(p *media.Packet) (err error) {
	if s.closed {
		return ErrClosed
	}
	defer s.takeErr(&err)
	if !s.cfg.Video {
		return fmt.Errorf("segmenter %s: video packet without a video track", s.cfg.Dir)
	}
	// A failed cut still ends the segment; p starts the next one and the
	// error is returned after it is written.
	var cutErr error
	switch {
	case !s.started:
		if !p.Keyframe {
			s.droppedVideo++
			return nil
		}
		if s.open {
			// The segment before a discontinuity ends with its own
			// timeline; its audio was written by Discontinuity.
			cutErr = s.cut(s.segEnd)
		}
		s.started = true
		// Audio before the first picture is dropped, so that every segment
		// starts with PAT, PMT and the IDR.
		s.droppedAudio += s.audio.dropBefore(p.PTS)
		s.begin(p.PTS)
	case p.Keyframe && p.PTS-s.segStart >= s.target:
		// The audio up to the cut belongs to the segment that ends.
		if err := s.writeAudioBefore(p.PTS, p.PTS); err != nil {
			return err
		}
		cutErr = s.cut(p.PTS)
		s.begin(p.PTS)
	}
	// Audio is written once the video has reached it, so that a player
	// finds both in step; a PES may take up to maxAudioPerPES frames
	// slightly ahead, as long as they belong to this segment.
	if err := s.writeAudioBefore(p.DTS, max(p.DTS, s.segStart+s.target)); err != nil {
		return err
	}
	if err := s.ts.writeVideo(p); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	s.segEnd = max(s.segEnd, p.PTS+s.cfg.FrameDuration)
	return cutErr
}

// WriteAudio adds one raw AAC frame (no ADTS header); frames come in PTS
// order. With a video track it waits in a queue until the video reaches
// its time (at most maxAudioAhead). The segmenter keeps p, and reads its
// Data, until the frame is written: p must not change (media.Packet's rule).
func (s *Segmenter) WriteAudio(p *media.Packet) (err error) {
	if s.closed {
		return ErrClosed
	}
	defer s.takeErr(&err)
	if s.cfg.Audio == nil {
		return fmt.Errorf("segmenter %s: audio packet without an audio track", s.cfg.Dir)
	}
	if s.cfg.Video {
		s.audio.push(p)
		return s.boundAudio()
	}
	// Audio only: cut on time.
	var cutErr error
	switch {
	case !s.started:
		if s.open { // after a discontinuity
			cutErr = s.cut(s.segEnd)
		}
		s.started = true
		s.begin(p.PTS)
	case p.PTS-s.segStart >= s.target:
		if err := s.writeAudioBefore(p.PTS, p.PTS); err != nil {
			return err
		}
		cutErr = s.cut(p.PTS)
		s.begin(p.PTS)
	}
	s.audio.push(p)
	s.segEnd = p.PTS + s.audioFrameTicks()
	if s.audio.len() >= s.ts.audioPerPES {
		if err := s.writeAudioFrames(s.ts.audioPerPES); err != nil {
			return err
		}
	}
	return cutErr
}

// Discontinuity marks the next segment with EXT-X-DISCONTINUITY: the
// packets written after it do not continue the timestamps (or the
// encoding) of those before. The open segment ends at the next keyframe
// whatever its length, since a discontinuity may only fall between
// segments; video before that keyframe is dropped.
func (s *Segmenter) Discontinuity() {
	if s.closed {
		return
	}
	s.disc = true
	s.started = false
	// The queued audio belongs to the old timeline: it goes into the
	// segment that ends, or nowhere.
	if !s.open {
		s.droppedAudio += s.audio.len()
		s.audio.drop(s.audio.len())
		return
	}
	if err := s.writeAudioFrames(s.audio.len()); err != nil && s.err == nil {
		s.err = err
	}
}

// takeErr returns, when the call has no error of its own, the one that
// Discontinuity could not.
func (s *Segmenter) takeErr(err *error) {
	if *err == nil && s.err != nil {
		*err, s.err = s.err, nil
	}
}

func (s *Segmenter) begin(pts int64) {
	s.open = true
	s.segDisc, s.disc = s.disc, false
	s.segStart = pts
	s.segEnd = pts
	s.ts.startSegment()
}

// cut ends the open segment at end (the PTS where the next one starts, or
// where its last frame ends), puts it and the playlist in the store,
// deletes the segments whose grace period is over, and calls OnSegment.
//
// The segment is closed whatever happens. When the store refuses it, its
// number is used again by the next segment (media sequence numbers must not
// skip: players count segments by them), which is marked as a
// discontinuity since the timestamps jump over the lost one.
func (s *Segmenter) cut(end int64) error {
	data := s.ts.endSegment()
	s.open = false
	info := SegmentInfo{
		Seq:           s.seq,
		Name:          strconv.FormatInt(s.seq, 10) + ".ts",
		Duration:      media.Duration(max(end-s.segStart, 0)),
		Size:          len(data),
		StartPTS:      s.segStart,
		Discontinuity: s.segDisc,
	}
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, info.Name), data); err != nil {
		s.disc = true
		return fmt.Errorf("put segment: %w", err)
	}
	s.seq++
	now := s.cfg.Now()
	for _, e := range s.pl.Append(info) {
		s.evicted = append(s.evicted, evicted{name: e.Name, at: now})
	}
	if s.cfg.Type != VOD {
		// On failure the next cut writes the playlist again, with this
		// segment in it.
		if err := s.writePlaylist(); err != nil {
			return err
		}
	}
	// A failed delete does not undo the cut: OnSegment is still called.
	err := s.deleteExpired(now)
	if s.cfg.OnSegment != nil {
		s.cfg.OnSegment(info)
	}
	return err
}

// deleteExpired deletes the segments that left the window at least Grace
// ago; players that loaded an older playlist may still fetch them until then.
func (s *Segmenter) deleteExpired(now time.Time) error {
	n := 0
	for _, e := range s.evicted {
		if now.Sub(e.at) < s.cfg.Grace {
			break
		}
		if err := s.cfg.Store.Delete(path.Join(s.cfg.Dir, e.name)); err != nil {
			// Tried again at the next cut.
			s.evicted = append(s.evicted[:0], s.evicted[n:]...)
			return fmt.Errorf("delete expired segment: %w", err)
		}
		n++
	}
	s.evicted = append(s.evicted[:0], s.evicted[n:]...)
	return nil
}

func (s *Segmenter) writePlaylist() error {
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, playlistName), s.pl.Encode()); err != nil {
		return fmt.Errorf("put playlist: %w", err)
	}
	return nil
}

// Close writes the queued audio, cuts the last segment and writes the
// playlist with EXT-X-ENDLIST. It is idempotent: later calls return what
// the first returned.
func (s *Segmenter) Close() error {
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	s.closeErr = s.close()
	return s.closeErr
}

func (s *Segmenter) close() error {
	err := s.err
	s.err = nil
	if s.open {
		// After a Discontinuity and no keyframe, the queue holds the new
		// timeline's audio, which is not this segment's.
		if s.started {
			if werr := s.writeAudioFrames(s.audio.len()); werr != nil && err == nil {
				err = werr
			}
		}
		if cerr := s.cut(s.segEnd); cerr != nil && err == nil {
			err = cerr
		}
	}
	s.droppedAudio += s.audio.len()
	s.audio.drop(s.audio.len())
	s.pl.End()
	if perr := s.writePlaylist(); perr != nil && err == nil {
		err = perr
	}
	return err
}

// Playlist is the media playlist. Read it only after Close (or on the
// goroutine that writes packets).
func (s *Segmenter) Playlist() *MediaPlaylist { return &s.pl }

// DroppedVideo is the number of video packets dropped because no keyframe
// had started the stream (or followed a Discontinuity).
func (s *Segmenter) DroppedVideo() int { return s.droppedVideo }

// DroppedAudio is the number of audio frames dropped: those before the
// first video keyframe, those queued when a discontinuity or Close found
// no segment open, and those that overflowed the queue before any segment.
func (s *Segmenter) DroppedAudio() int { return s.droppedAudio }
