package hlsmux

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// LL-HLS playlist constants (RFC 8216bis).
const (
	// partHoldBackParts: PART-HOLD-BACK is this many part targets, the
	// least §4.4.3.8 recommends ("at least three times"), so that a player
	// starts as close to the live edge as a blocked reload can follow.
	partHoldBackParts = 3
	// skipUntilTargets: CAN-SKIP-UNTIL is this many target durations, the
	// least §4.4.3.8 allows: a delta update leaves out every segment older.
	skipUntilTargets = 6
	// partsForTargets: parts are listed for the segments of this many
	// target durations before the end (§4.4.4.9: at least those).
	partsForTargets = 3
)

const pdtLayout = "2006-01-02T15:04:05.000Z"

// Encode returns the playlist's text in a new slice (the caller may hand it
// to a Store).
func (p *MediaPlaylist) Encode() []byte { return p.encode(false) }

// EncodeDelta returns the playlist as a Playlist Delta Update
// (RFC 8216bis §6.2.5.1): the segments older than CAN-SKIP-UNTIL are
// replaced by EXT-X-SKIP. It equals Encode for a playlist without parts.
func (p *MediaPlaylist) EncodeDelta() []byte { return p.encode(true) }

// LowLatency reports whether the playlist has LL-HLS tags.
func (p *MediaPlaylist) LowLatency() bool { return p.PartTarget > 0 }

func (p *MediaPlaylist) target() int64 {
	return max(int64(math.Ceil(p.TargetDuration.Seconds())), p.maxRound, 1)
}

func (p *MediaPlaylist) version() int {
	switch {
	case p.LowLatency():
		return 9 // EXT-X-SKIP, and with it every LL-HLS tag
	case len(p.segs) > 0 && p.segs[0].Init != "":
		return 6 // EXT-X-MAP in a playlist without I-frames only
	}
	return 3
}

func (p *MediaPlaylist) encode(delta bool) []byte {
	var b bytes.Buffer
	b.Grow(256 + 48*len(p.segs) + 64*len(p.open.Parts))
	var num [24]byte
	ll := p.LowLatency()
	target := p.target()
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:")
	b.WriteString(strconv.Itoa(p.version()))
	b.WriteString("\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:")
	b.WriteString(strconv.FormatInt(target, 10))
	b.WriteByte('\n')
	skipUntil := time.Duration(skipUntilTargets*target) * time.Second
	if ll {
		b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES")
		if p.Type == Live {
			b.WriteString(",CAN-SKIP-UNTIL=")
			b.Write(appendMillis(num[:0], skipUntil.Milliseconds()))
		}
		b.WriteString(",PART-HOLD-BACK=")
		b.Write(appendMillis(num[:0], partHoldBackParts*p.PartTarget.Milliseconds()))
		b.WriteString("\n#EXT-X-PART-INF:PART-TARGET=")
		b.Write(appendMillis(num[:0], p.PartTarget.Milliseconds()))
		b.WriteByte('\n')
	}
	seq := int64(0)
	switch {
	case len(p.segs) > 0:
		seq = p.segs[0].Seq
	case p.isOpen:
		seq = p.open.Seq
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

	// after[i] is the media time listed after segment i: what decides
	// whether its parts are listed and whether a delta skips it.
	openDur := time.Duration(0)
	for _, pt := range p.open.Parts {
		openDur += pt.Duration
	}
	after := make([]time.Duration, len(p.segs))
	sum := openDur
	for i := len(p.segs) - 1; i >= 0; i-- {
		after[i] = sum
		sum += p.segs[i].Duration
	}
	skip := 0
	if delta && ll && p.Type == Live {
		for skip < len(p.segs) && after[skip] >= skipUntil {
			skip++
		}
		b.WriteString("#EXT-X-SKIP:SKIPPED-SEGMENTS=")
		b.WriteString(strconv.Itoa(skip))
		b.WriteByte('\n')
	}
	partsFrom := time.Duration(partsForTargets*target) * time.Second
	lastInit := ""
	for i, s := range p.segs[skip:] {
		p.segmentTags(&b, s, &lastInit)
		if ll && after[skip+i] < partsFrom {
			writeParts(&b, s.Parts)
		}
		b.WriteString("#EXTINF:")
		b.Write(appendMillis(num[:0], extinfMillis(s.Duration)))
		b.WriteString(",\n")
		b.WriteString(s.Name)
		b.WriteByte('\n')
	}
	if ll && p.isOpen && !p.ended {
		p.segmentTags(&b, p.open, &lastInit)
		writeParts(&b, p.open.Parts)
	}
	if ll && p.hint != "" && !p.ended {
		b.WriteString("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"")
		b.WriteString(p.hint)
		b.WriteString("\"\n")
	}
	if p.ended || p.Type == VOD {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// segmentTags writes the tags that go before segment s's parts and URI:
// its discontinuity, its init section when it is not the one before it,
// and its program date-time.
func (p *MediaPlaylist) segmentTags(b *bytes.Buffer, s SegmentInfo, lastInit *string) {
	if s.Discontinuity {
		b.WriteString("#EXT-X-DISCONTINUITY\n")
	}
	if s.Init != "" && s.Init != *lastInit {
		b.WriteString("#EXT-X-MAP:URI=\"")
		b.WriteString(s.Init)
		b.WriteString("\"\n")
		*lastInit = s.Init
	}
	if !s.ProgramDateTime.IsZero() {
		b.WriteString("#EXT-X-PROGRAM-DATE-TIME:")
		b.WriteString(s.ProgramDateTime.UTC().Format(pdtLayout))
		b.WriteByte('\n')
	}
}

func writeParts(b *bytes.Buffer, parts []PartInfo) {
	var num [24]byte
	for _, pt := range parts {
		b.WriteString("#EXT-X-PART:DURATION=")
		b.Write(appendMillis(num[:0], extinfMillis(pt.Duration)))
		b.WriteString(",URI=\"")
		b.WriteString(pt.Name)
		b.WriteByte('"')
		if pt.Independent {
			b.WriteString(",INDEPENDENT=YES")
		}
		b.WriteByte('\n')
	}
}
