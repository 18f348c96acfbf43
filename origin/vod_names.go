package origin

import "strings"

// Names of a recorded rendition's files under /vod/, in package record's
// layout. They are validated here rather than with the live names
// (names.go): a recording has no LL-HLS parts, and its fMP4 init sections
// are named by the first segment that uses them.
const (
	vodPlaylistFile = "index.m3u8"
	// maxVODSeqDigits is the length of the largest int64, the type of a
	// media sequence number (segment numbers are publish times in ms: 13).
	maxVODSeqDigits = 19
)

var (
	// An fMP4 (CMAF) media segment: like an MPEG-TS one, it never changes.
	vodFMP4SegmentKind = fileKind{"video/iso.segment", vodSegmentKind.cacheControl}
	// An fMP4 init section is named by the first segment that uses it and
	// never rewritten: cached for good too.
	vodInitKind = fileKind{"video/mp4", vodSegmentKind.cacheControl}
)

// vodMediaKind returns how a recorded rendition's media file is served:
// an MPEG-TS segment "<seq>.ts", an fMP4 segment "<seq>.m4s" or an fMP4
// init section "init-<seq>.mp4", seq 1 to maxVODSeqDigits decimal digits.
// ok is false for any other name, its media playlist included.
func vodMediaKind(file string) (kind fileKind, ok bool) {
	if seq, found := strings.CutPrefix(file, "init-"); found {
		seq, found = strings.CutSuffix(seq, ".mp4")
		return vodInitKind, found && vodSeq(seq)
	}
	if seq, found := strings.CutSuffix(file, ".ts"); found {
		return vodSegmentKind, vodSeq(seq)
	}
	if seq, found := strings.CutSuffix(file, ".m4s"); found {
		return vodFMP4SegmentKind, vodSeq(seq)
	}
	return fileKind{}, false
}

// vodSeq reports whether s is a media sequence number as names write it.
func vodSeq(s string) bool {
	return len(s) > 0 && len(s) <= maxVODSeqDigits && all(s, func(c byte) bool { return '0' <= c && c <= '9' })
}
