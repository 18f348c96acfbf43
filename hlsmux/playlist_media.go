package hlsmux

import (
	"bytes"
	"math"
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
}

// MediaPlaylist is a rendition's playlist.
type MediaPlaylist struct {
	Type PlaylistType
	// TargetDuration is the configured segment duration; the written
	// EXT-X-TARGETDURATION is never below any segment's rounded duration.
	TargetDuration time.Duration
	// Window is how many segments a Live playlist lists.
	Window int

	segs     []SegmentInfo
	ended    bool
	discSeq  int   // EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that left the window
	maxRound int64 // largest EXTINF seen, rounded to whole seconds
}

// Append adds a segment; for a Live playlist it returns the segments that
// left the window (a new slice, nil when none did).
func (p *MediaPlaylist) Append(s SegmentInfo) (evicted []SegmentInfo) {
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

// End marks the playlist complete: EXT-X-ENDLIST from now on. A VOD
// playlist always ends with EXT-X-ENDLIST (it is only written complete).
func (p *MediaPlaylist) End() { p.ended = true }

// Ended reports whether End was called.
func (p *MediaPlaylist) Ended() bool { return p.ended }

// Segments returns the listed segments (a copy).
func (p *MediaPlaylist) Segments() []SegmentInfo { return append([]SegmentInfo(nil), p.segs...) }

// Encode returns the playlist's text in a new slice (the caller may hand it
// to a Store).
func (p *MediaPlaylist) Encode() []byte {
	var b bytes.Buffer
	b.Grow(160 + 48*len(p.segs))
	var num [24]byte
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	target := max(int64(math.Ceil(p.TargetDuration.Seconds())), p.maxRound, 1)
	b.WriteString("#EXT-X-TARGETDURATION:")
	b.WriteString(strconv.FormatInt(target, 10))
	b.WriteByte('\n')
	seq := int64(0)
	if len(p.segs) > 0 {
		seq = p.segs[0].Seq
	}
	b.WriteString("#EXT-X-MEDIA-SEQUENCE:")
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteByte('\n')
	if p.discSeq > 0 {
		b.WriteString("#EXT-X-DISCONTINUITY-SEQUENCE:")
		b.WriteString(strconv.Itoa(p.discSeq))
		b.WriteByte('\n')
	}
	switch p.Type {
	case Event:
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	case VOD:
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	}
	for _, s := range p.segs {
		if s.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		b.WriteString("#EXTINF:")
		b.Write(appendMillis(num[:0], extinfMillis(s.Duration)))
		b.WriteString(",\n")
		b.WriteString(s.Name)
		b.WriteByte('\n')
	}
	if p.ended || p.Type == VOD {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}
