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

	// Format is the container: TS (MPEG-TS, the default) or FMP4 (CMAF
	// fragments with an init section, which LL-HLS parts need).
	Format Format
	// PartTarget, with FMP4 and a Live playlist, cuts each segment into
	// parts of at most this long and writes LL-HLS playlists (RFC 8216bis):
	// parts, preload hints, server control, and a delta update as
	// delta.m3u8 beside index.m3u8. Zero: no parts.
	PartTarget time.Duration
	// Edge, when set, is advanced after each part (or segment) is listed,
	// and ended at Close, under the rendition name path.Base(Dir).
	Edge *Edge
	// Wallclock, when set, maps a PTS to when its frame arrived at ingest,
	// for EXT-X-PROGRAM-DATE-TIME (fMP4 only); ok=false continues the last
	// one by the segments' durations.
	Wallclock func(pts int64) (at time.Time, ok bool)
	// OnPart, when set, is called after a part and its playlist are in the
	// store, on the goroutine that wrote the packet.
	OnPart func(PartInfo)
	// KeyframeInterval is the encoder's GOP when keyframes come on a fixed
	// clock (the pipeline forces them every KeyframeInterval of stream
	// time from the first picture): with it and FrameDuration, a part is
	// cut as soon as its last picture is written, not when the picture
	// after it comes, one frame and one encode later. Zero: parts at a
	// possible segment cut wait for that picture.
	KeyframeInterval time.Duration
	// EndHold, with parts, is how long Close leaves the last live playlist
	// (its last parts listed) before it writes EXT-X-ENDLIST. hls.js
	// counts a segment whose parts it buffered as loaded; seeing that
	// segment complete in an ended playlist before it fetched the last
	// parts, it never fetches them, and never ends the stream. A part
	// target's time is enough for a player that was waiting on them.
	EndHold time.Duration
}

// Format is a segment container.
type Format int

const (
	// TS is MPEG-TS (RFC 8216 §3.2), what every HLS player plays.
	TS Format = iota
	// FMP4 is fragmented MP4 (CMAF, RFC 8216bis §3.1.2), for LL-HLS.
	FMP4
)

// ParseFormat reads "ts" or "fmp4".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "ts":
		return TS, nil
	case "fmp4":
		return FMP4, nil
	}
	return TS, fmt.Errorf("HLS format %q: want ts or fmp4", s)
}

func (f Format) String() string {
	if f == FMP4 {
		return "fmp4"
	}
	return "ts"
}

// Segmenter writes one rendition as MPEG-TS segments and its media playlist
// into a Store. It is not safe for concurrent use: one goroutine owns it.
type Segmenter struct {
	cfg    SegmenterConfig
	ts     *tsWriter   // TS format
	fm     *fmp4Writer // FMP4 format
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

	// FMP4: the open part's first DTS (PTS without video) and index, the
	// init section's name, and the parts written, deleted with their
	// segment's.
	partStart int64
	partIndex int
	part      int64 // PartTarget in ticks; 0: no parts
	initName  string
	segInfo   SegmentInfo // the open segment's tags
	lastPart  *PartInfo   // the open segment's last part, listed by its cut
	// early is an early part cut waiting for the audio up to its end.
	early earlyCut
	// keyAnchor is the PTS of the timeline's first keyframe, from which
	// the keyframe clock counts KeyframeInterval.
	keyAnchor   int64
	keyAnchored bool
	// nextPDT is where the last segment ended on the wall clock: the next
	// one's program date-time when Wallclock does not know its PTS.
	nextPDT time.Time

	audio        audioQueue
	evicted      []evicted
	droppedVideo int
	droppedAudio int
	closed       bool
	closeErr     error
}

type evicted struct {
	name  string
	parts []string
	at    time.Time
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
	s := &Segmenter{
		cfg:    cfg,
		pl:     MediaPlaylist{Type: cfg.Type, TargetDuration: cfg.TargetDuration, Window: cfg.Window, discSeq: cfg.DiscontinuitySequence},
		target: media.Ticks(cfg.TargetDuration),
		seq:    cfg.FirstSeq,
	}
	var err error
	switch cfg.Format {
	case TS:
		s.ts, err = newTSWriter(cfg.Video, cfg.Audio)
	case FMP4:
		s.fm, err = newFMP4Writer(cfg.Video, cfg.Audio, cfg.FrameDuration)
		if cfg.PartTarget > 0 && cfg.Type == Live {
			if cfg.PartTarget < 100*time.Millisecond || cfg.PartTarget > cfg.TargetDuration {
				return nil, fmt.Errorf("new segmenter for %q: part target %v: want 100ms to the target duration", cfg.Dir, cfg.PartTarget)
			}
			s.part = media.Ticks(cfg.PartTarget)
			s.pl.PartTarget = cfg.PartTarget
		}
	default:
		err = fmt.Errorf("format %d", cfg.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("new segmenter for %q: %w", cfg.Dir, err)
	}
	if cfg.Continues {
		s.Discontinuity()
	}
	return s, nil
}

const (
	playlistName = "index.m3u8"
	// deltaName is the playlist as a delta update (EXT-X-SKIP), which an
	// origin serves for index.m3u8?_HLS_skip=YES.
	deltaName = "delta.m3u8"
)

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
	// An early cut still waiting for audio is made the usual way, now
	// that the picture after the part is here.
	s.early.due = false
	switch {
	case !s.started:
		if !p.Keyframe {
			s.droppedVideo++
			return nil
		}
		if s.open {
			// The segment before a discontinuity ends with its own
			// timeline; its audio was written by Discontinuity.
			s.settleLast()
			cutErr = s.cut(s.segEnd)
		}
		s.started = true
		// Audio before the first picture is dropped, so that every segment
		// starts with PAT, PMT and the IDR.
		s.droppedAudio += s.audio.dropBefore(p.PTS)
		s.begin(p.PTS, p.DTS)
	case p.Keyframe && p.PTS-s.segStart >= s.target:
		// The audio up to the cut belongs to the segment that ends.
		if err := s.writeAudioBefore(p.PTS, p.PTS); err != nil {
			return err
		}
		if s.fm != nil {
			s.fm.settle(p.DTS)
		}
		cutErr = s.cut(p.PTS)
		s.begin(p.PTS, p.DTS)
	case s.part > 0 && p.DTS-s.partStart+s.cfg.FrameDuration > s.part:
		// p would make the part longer than the part target: the part
		// ends before it (RFC 8216bis §4.4.4.9: at most PART-TARGET). Its
		// audio ends where its pictures' presentation does, p's decode
		// time shifted as the fMP4 writer shifts it: were it shorter,
		// the buffered media would end inside the part, and a player that
		// looks up the part at its buffer's end (hls.js) would find the
		// part it has and wait.
		limit := p.DTS + s.fm.shift
		if err := s.writeAudioBefore(limit, limit); err != nil {
			return err
		}
		s.fm.settle(p.DTS)
		cutErr = s.cutPart(partListed)
		s.partStart = p.DTS
	}
	// Audio is written once the video has reached it, so that a player
	// finds both in step; a PES may take up to maxAudioPerPES frames
	// slightly ahead, as long as they belong to this segment.
	if err := s.writeAudioBefore(p.DTS, max(p.DTS, s.segStart+s.target)); err != nil {
		return err
	}
	if err := s.muxVideo(p); err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	s.segEnd = max(s.segEnd, p.PTS+s.cfg.FrameDuration)
	if p.Keyframe && (!s.keyAnchored || p.PTS < s.keyAnchor) {
		s.keyAnchor, s.keyAnchored = p.PTS, true
	}
	if err := s.planEarlyCut(p); err != nil && cutErr == nil {
		cutErr = err
	}
	return cutErr
}

func (s *Segmenter) muxVideo(p *media.Packet) error {
	if s.fm != nil {
		return s.fm.writeVideo(p)
	}
	return s.ts.writeVideo(p)
}

// settleLast ends an fMP4 segment's last picture with one frame's
// duration, when no picture of its timeline follows.
func (s *Segmenter) settleLast() {
	if s.fm != nil {
		s.fm.settleLast()
	}
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
		if err := s.boundAudio(); err != nil {
			return err
		}
		return s.cutEarlyIfHeard()
	}
	// Audio only: cut on time.
	var cutErr error
	switch {
	case !s.started:
		if s.open { // after a discontinuity
			cutErr = s.cut(s.segEnd)
		}
		s.started = true
		s.begin(p.PTS, p.PTS)
	case p.PTS-s.segStart >= s.target:
		if err := s.writeAudioBefore(p.PTS, p.PTS); err != nil {
			return err
		}
		cutErr = s.cut(p.PTS)
		s.begin(p.PTS, p.PTS)
	case s.part > 0 && p.PTS-s.partStart+s.audioFrameTicks() > s.part:
		if err := s.writeAudioBefore(p.PTS, p.PTS); err != nil {
			return err
		}
		cutErr = s.cutPart(partListed)
		s.partStart = p.PTS
	}
	s.audio.push(p)
	s.segEnd = p.PTS + s.audioFrameTicks()
	if s.audio.len() >= s.audioBatch() {
		if err := s.writeAudioFrames(s.audioBatch()); err != nil {
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
	s.early.due = false
	s.keyAnchored = false
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

// begin opens a segment whose first frame has pts and dts.
func (s *Segmenter) begin(pts, dts int64) {
	s.open = true
	s.segDisc, s.disc = s.disc, false
	s.segStart = pts
	s.segEnd = pts
	s.partStart = dts
	s.partIndex = 0
	s.segInfo = SegmentInfo{Seq: s.seq, Discontinuity: s.segDisc, ProgramDateTime: s.programDateTime(pts)}
	if s.fm != nil {
		if s.segDisc {
			s.fm.newTimeline()
		}
		s.fm.startSegment()
	} else {
		s.ts.startSegment()
	}
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
	info := s.segInfo
	info.Duration = media.Duration(max(end-s.segStart, 0))
	info.StartPTS = s.segStart
	var data []byte
	if s.fm != nil {
		// The segment's last part ends with it, listed with it (unless
		// an early cut listed it already).
		if err := s.cutPart(partLast); err != nil {
			s.fm.endSegment()
			s.open = false
			s.disc = true
			return err
		}
		data = s.fm.endSegment()
		info.Name = strconv.FormatInt(s.seq, 10) + ".m4s"
		info.Init = s.initName
		if s.pl.isOpen && s.pl.open.Seq == s.seq {
			info.Parts = s.pl.open.Parts
		}
	} else {
		data = s.ts.endSegment()
		info.Name = strconv.FormatInt(s.seq, 10) + ".ts"
	}
	s.open = false
	info.Size = len(data)
	if !info.ProgramDateTime.IsZero() {
		s.nextPDT = info.ProgramDateTime.Add(info.Duration)
	}
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, info.Name), data); err != nil {
		s.disc = true
		return fmt.Errorf("put segment: %w", err)
	}
	s.seq++
	if s.part > 0 {
		s.pl.Hint(partName(s.seq, 0))
	}
	now := s.cfg.Now()
	for _, e := range s.pl.Append(info) {
		ev := evicted{name: e.Name, at: now}
		for _, pt := range e.Parts {
			ev.parts = append(ev.parts, pt.Name)
		}
		s.evicted = append(s.evicted, ev)
	}

	if s.cfg.Type != VOD {
		// On failure the next cut writes the playlist again, with this
		// segment in it.
		if err := s.writePlaylist(); err != nil {
			return err
		}
	}
	if s.cfg.Edge != nil && s.part > 0 {
		s.cfg.Edge.Advance(path.Base(s.cfg.Dir), Position{MSN: info.Seq, Part: max(len(info.Parts)-1, 0), Complete: true})
	}
	if s.lastPart != nil && s.cfg.OnPart != nil {
		s.cfg.OnPart(*s.lastPart)
	}
	s.lastPart = nil
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
		for i, name := range append(e.parts, e.name) {
			if err := s.cfg.Store.Delete(path.Join(s.cfg.Dir, name)); err != nil {
				// Tried again at the next cut.
				s.evicted[n].parts = e.parts[min(i, len(e.parts)):]
				s.evicted = append(s.evicted[:0], s.evicted[n:]...)
				return fmt.Errorf("delete expired segment: %w", err)
			}
		}
		n++
	}
	s.evicted = append(s.evicted[:0], s.evicted[n:]...)
	return nil
}

func (s *Segmenter) writePlaylist() error {
	if s.part > 0 {
		// The delta first: a player told of a part by index.m3u8 finds
		// it in the delta too.
		if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, deltaName), s.pl.EncodeDelta()); err != nil {
			return fmt.Errorf("put delta playlist: %w", err)
		}
	}
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
	s.early.due = false
	if s.open {
		// After a Discontinuity and no keyframe, the queue holds the new
		// timeline's audio, which is not this segment's.
		switch {
		case !s.started:
		case s.fm != nil && s.cfg.Video:
			// fMP4 with video ends where its last picture does: a player
			// appending the tracks to a MediaSource buffers only where
			// both are, and one that checks that the last part is
			// buffered before it ends the stream (hls.js) would wait
			// forever for audio past the video in a part of its own.
			if werr := s.writeAudioBefore(s.segEnd, s.segEnd); werr != nil && err == nil {
				err = werr
			}
		default:
			if werr := s.writeAudioFrames(s.audio.len()); werr != nil && err == nil {
				err = werr
			}
		}
		s.settleLast()
		if cerr := s.cut(s.segEnd); cerr != nil && err == nil {
			err = cerr
		}
	}
	s.droppedAudio += s.audio.len()
	s.audio.drop(s.audio.len())
	if s.cfg.EndHold > 0 && s.part > 0 {
		// Players fetch the parts the last live playlist listed before
		// they see it end (see EndHold).
		time.Sleep(s.cfg.EndHold)
	}
	s.pl.End()
	if perr := s.writePlaylist(); perr != nil && err == nil {
		err = perr
	}
	if s.cfg.Edge != nil {
		s.cfg.Edge.End(path.Base(s.cfg.Dir))
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

// partName is the URI of part i of segment seq.
func partName(seq int64, i int) string {
	return strconv.FormatInt(seq, 10) + "." + strconv.Itoa(i) + ".m4s"
}

// initName is the URI of the init section first used by segment seq.
func initName(seq int64) string { return "init-" + strconv.FormatInt(seq, 10) + ".mp4" }

// partEnd says how cutPart lists a part.
type partEnd int

const (
	// partListed: the segment goes on; the preload hint names its next part.
	partListed partEnd = iota
	// partLast: the segment's last part, listed by the segment's cut.
	partLast
	// partBeforeKeyframe: listed now, as the segment's last (an early cut
	// before the keyframe that will cut the segment); the hint names the
	// next segment's first part.
	partBeforeKeyframe
)

// cutPart ends the open fMP4 part: it puts the part (and, before the
// first part using them, new parameter sets' init section) in the store,
// and with parts, lists it, writes the playlists and advances the Edge;
// the last part of a segment is listed by the segment's cut (end
// partLast), so that no playlist hints at a part that will not come. The
// caller settled its last picture. A part with nothing in it is not
// written.
func (s *Segmenter) cutPart(end partEnd) error {
	if s.fm.newInit {
		data, err := s.fm.init()
		if err != nil {
			return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
		}
		name := initName(s.seq)
		if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, name), data); err != nil {
			return fmt.Errorf("put init section: %w", err)
		}
		s.fm.newInit = false
		s.initName = name
		s.segInfo.Init = name
	}
	if s.segInfo.Init == "" {
		s.segInfo.Init = s.initName
	}
	endPTS := s.fm.maxPTS + 1
	data, independent, dur, err := s.fm.endPart()
	if err != nil {
		return fmt.Errorf("segmenter %s: %w", s.cfg.Dir, err)
	}
	if data == nil || s.part == 0 {
		return nil
	}
	if s.initName == "" {
		return fmt.Errorf("segmenter %s: part before any keyframe's parameter sets", s.cfg.Dir)
	}
	info := PartInfo{Name: partName(s.seq, s.partIndex), Duration: media.Duration(dur), Independent: independent,
		Size: len(data), Seq: s.seq, Index: s.partIndex, EndPTS: endPTS}
	if err := s.cfg.Store.Put(path.Join(s.cfg.Dir, info.Name), data); err != nil {
		return fmt.Errorf("put part: %w", err)
	}
	s.partIndex++
	hint := partName(s.seq, s.partIndex)
	if end == partBeforeKeyframe {
		hint = partName(s.seq+1, 0)
	}
	s.pl.AppendPart(s.segInfo, info, hint)
	if end == partLast {
		s.lastPart = &info
		return nil
	}
	if err := s.writePlaylist(); err != nil {
		return err
	}
	s.listed(info)
	return nil
}

// listed advances the Edge to part p, now in the playlist, and calls OnPart.
func (s *Segmenter) listed(p PartInfo) {
	if s.cfg.Edge != nil {
		s.cfg.Edge.Advance(path.Base(s.cfg.Dir), Position{MSN: p.Seq, Part: p.Index})
	}
	if s.cfg.OnPart != nil {
		s.cfg.OnPart(p)
	}
}

// programDateTime is the date of the segment that begins with the frame
// at pts: the date of the one before plus its duration, so that dates and
// EXTINFs agree (players align renditions by date), unless the frame's
// arrival (Wallclock) is more than pdtTolerance away from it (the
// publisher's clock drifted, or the timeline broke), when it is that
// arrival; the first segment's is its frame's arrival.
func (s *Segmenter) programDateTime(pts int64) time.Time {
	// MPEG-TS playlists stay as they were: hls.js aligns renditions by
	// date where playlists have them, which its TS remuxer does not need.
	if s.cfg.Wallclock == nil || s.fm == nil {
		return time.Time{}
	}
	at, ok := s.cfg.Wallclock(pts)
	switch {
	case s.nextPDT.IsZero() || s.segDisc:
		if ok {
			return at
		}
	case !ok:
	case at.Sub(s.nextPDT).Abs() > pdtTolerance:
		return at
	}
	return s.nextPDT
}

// pdtTolerance is how far a segment's date may be from its first frame's
// arrival: network jitter (a few frames' worth at most) stays within
// it, so dates follow the media; a drift past it moves the date back to
// the arrival.
const pdtTolerance = 200 * time.Millisecond
