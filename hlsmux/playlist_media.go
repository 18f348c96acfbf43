package hlsmux

import (
	"strconv"
	"time"
)

// PlaylistType says how a media playlist grows.
type PlaylistType int

const (
	// Live keeps a sliding window of the last Window segments.
	Live PlaylistType = iota
	// Event grows from the first segment on (EXT-X-PLAYLIST-TYPE:EVENT).
	Event
	// VOD is complete when written (EXT-X-PLAYLIST-TYPE:VOD, EXT-X-ENDLIST).
	VOD
)

// SegmentInfo describes one segment of a media playlist.
type SegmentInfo struct {
	// Seq is the media sequence number; the segment's name is derived from it.
	Seq int64
	// Name is the URI relative to the playlist ("1732430000000.ts").
	Name     string
	Duration time.Duration
	Size     int
	// StartPTS is the PTS of its first video frame (90 kHz).
	StartPTS int64
	// Discontinuity marks a break in timestamps or encoding before it.
	Discontinuity bool
	// Init is the URI of its fMP4 init section (EXT-X-MAP); empty for TS.
	Init string
	// ProgramDateTime is the wall clock of its first picture: when that
	// frame arrived at ingest (EXT-X-PROGRAM-DATE-TIME). Zero: not written.
	ProgramDateTime time.Time
	// Parts are its partial segments (LL-HLS), in order; none without.
	Parts []PartInfo
}

// PartInfo describes one partial segment (RFC 8216bis §4.4.4.9).
type PartInfo struct {
	// Name is the URI relative to the playlist ("1732430000000.3.m4s").
	Name     string
	Duration time.Duration
	// Independent: it begins with a keyframe (INDEPENDENT=YES).
	Independent bool
	Size        int
	// Seq and Index are its segment's media sequence number and its
	// index in that segment.
	Seq   int64
	Index int
	// EndPTS is just past the PTS of its last frame: when that frame was
	// in, the part could be listed.
	EndPTS int64
}

// MediaPlaylist is a rendition's playlist.
type MediaPlaylist struct {
	Type PlaylistType
	// TargetDuration is the configured segment duration; the written
	// EXT-X-TARGETDURATION is never below any segment's rounded duration.
	TargetDuration time.Duration
	// Window is how many segments a Live playlist lists.
	Window int

	// PartTarget is the part target duration of an LL-HLS playlist; zero
	// writes no LL-HLS tags.
	PartTarget time.Duration

	segs     []SegmentInfo
	open     SegmentInfo // the segment being written: its parts so far
	isOpen   bool
	hint     string // EXT-X-PRELOAD-HINT: the next part's URI
	ended    bool
	discSeq  int   // EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that left the window
	maxRound int64 // largest EXTINF seen, rounded to whole seconds
}

// AppendPart lists a part of the segment being written, whose tags (Seq,
// Discontinuity, Init, ProgramDateTime) seg gives, and hints at next, the
// URI of the part to come.
func (p *MediaPlaylist) AppendPart(seg SegmentInfo, part PartInfo, next string) {
	if !p.isOpen || p.open.Seq != seg.Seq {
		p.open, p.isOpen = seg, true
		p.open.Parts = nil
	}
	p.open.Parts = append(p.open.Parts, part)
	p.hint = next
}

// Hint sets the URI of the part to come (EXT-X-PRELOAD-HINT).
func (p *MediaPlaylist) Hint(next string) { p.hint = next }

// Append adds a segment, which replaces the parts listed for it; for a
// Live playlist it returns the segments that left the window (a new
// slice, nil when none did).
func (p *MediaPlaylist) Append(s SegmentInfo) (evicted []SegmentInfo) {
	if p.isOpen && p.open.Seq == s.Seq {
		p.open, p.isOpen = SegmentInfo{}, false
	}
	p.segs = append(p.segs, s)
	// RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer must be
	// at most the target duration, and §6.2.1: the target must not change. So
	// the target only grows, over every segment ever listed, not just those
	// in the window.
	p.maxRound = max(p.maxRound, (extinfMillis(s.Duration)+500)/1000)
	if p.Type == Live && p.Window > 0 && len(p.segs) > p.Window {
		n := len(p.segs) - p.Window
		evicted = append(evicted, p.segs[:n]...)
		for _, e := range evicted {
			if e.Discontinuity {
				p.discSeq++
			}
		}
		m := copy(p.segs, p.segs[n:])
		clear(p.segs[m:])
		p.segs = p.segs[:m]
	}
	return evicted
}

// extinfMillis is the duration as EXTINF writes it: whole milliseconds,
// never negative. The target duration is rounded from this value, so it
// agrees with what a validator reads back.
func extinfMillis(d time.Duration) int64 {
	return max(d.Round(time.Millisecond).Milliseconds(), 0)
}

// appendMillis writes ms as seconds with three decimals ("6.006").
func appendMillis(b []byte, ms int64) []byte {
	b = strconv.AppendInt(b, ms/1000, 10)
	f := ms % 1000
	return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// End marks the playlist complete: EXT-X-ENDLIST from now on, no part of
// an unfinished segment and no hint. A VOD playlist always ends with
// EXT-X-ENDLIST (it is only written complete).
func (p *MediaPlaylist) End() {
	p.ended = true
	p.open, p.isOpen, p.hint = SegmentInfo{}, false, ""
}

// Ended reports whether End was called.
func (p *MediaPlaylist) Ended() bool { return p.ended }

// Segments returns the listed segments (a copy).
func (p *MediaPlaylist) Segments() []SegmentInfo { return append([]SegmentInfo(nil), p.segs...) }
