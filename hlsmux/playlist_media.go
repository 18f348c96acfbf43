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
	discSeq  int // EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that left the window
	maxRound int // largest rounded EXTINF seen, in seconds
}

// Append adds a segment; for a Live playlist it returns the segments that
// left the window.
func (p *MediaPlaylist) Append(s SegmentInfo) (evicted []SegmentInfo) {
	p.segs = append(p.segs, s)
	p.maxRound = max(p.maxRound, int(math.Round(s.Duration.Seconds())))
	if p.Type == Live && p.Window > 0 && len(p.segs) > p.Window {
		n := len(p.segs) - p.Window
		evicted = append(evicted, p.segs[:n]...)
		for _, e := range evicted {
			if e.Discontinuity {
				p.discSeq++
			}
		}
		p.segs = append(p.segs[:0:0], p.segs[n:]...)
	}
	return evicted
}

// End marks the playlist complete: EXT-X-ENDLIST from now on.
func (p *MediaPlaylist) End() { p.ended = true }

// Ended reports whether End was called.
func (p *MediaPlaylist) Ended() bool { return p.ended }

// Segments returns the listed segments (a copy).
func (p *MediaPlaylist) Segments() []SegmentInfo { return append([]SegmentInfo(nil), p.segs...) }

// Encode writes the playlist.
func (p *MediaPlaylist) Encode() []byte {
	var b bytes.Buffer
	b.Grow(128 + 48*len(p.segs))
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	target := max(int(math.Ceil(p.TargetDuration.Seconds())), p.maxRound, 1)
	b.WriteString("#EXT-X-TARGETDURATION:")
	b.WriteString(strconv.Itoa(target))
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
		b.WriteString(strconv.FormatFloat(s.Duration.Seconds(), 'f', 3, 64))
		b.WriteString(",\n")
		b.WriteString(s.Name)
		b.WriteByte('\n')
	}
	if p.ended || p.Type == VOD {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}
