package origin

import (
	"strconv"
	"strings"
)

// Limits on the names in a request path. They are checked before anything
// is looked up, so no "..", slash, dot or escape ever reaches a Store, and a
// hostile path costs a few byte comparisons.
const (
	// maxPlaybackIDLen is far above the registry's 16 characters, so ids
	// from another registry version still pass, yet keeps lookups of
	// megabyte-long names out of the stream table.
	maxPlaybackIDLen = 64
	// maxRenditionLen bounds a rendition name ("720p", "audio_128k").
	maxRenditionLen = 32
	// maxSegmentDigits is the length of the largest int64, the type of a
	// media sequence number (segment numbers are publish times in ms: 13).
	maxSegmentDigits = 19
	// maxPartDigits bounds a partial segment's index in its segment: a
	// thousand parts is far beyond any segment (a 6 s segment of 0.2 s
	// parts has 30), and the number stays a small int.
	maxPartDigits = 3
)

// The names of a rendition's files, as hlsmux writes them.
const (
	playlistName = "index.m3u8"
	// deltaName is the playlist as a delta update (EXT-X-SKIP), served
	// for index.m3u8?_HLS_skip=YES; never requested by its own name.
	deltaName = "delta.m3u8"
)

// mediaName is a validated name of a rendition's media file: a TS
// segment "<seq>.ts", an fMP4 segment "<seq>.m4s", its partial segment
// "<seq>.<part>.m4s", or an init section "init-<seq>.mp4".
type mediaName struct {
	kind fileKind
	// seq and part are the segment's media sequence number and the
	// part's index (-1: a whole segment, or an init section), when
	// waitable: the name is an fMP4 segment or part that an Edge may
	// not list yet, and its numbers fit (19 digits may not fit an int64).
	seq      int64
	part     int
	waitable bool
}

// parseMediaName returns file's media name, or ok=false when file is not
// one: digits are 1 to maxSegmentDigits long, a part's 1 to
// maxPartDigits.
func parseMediaName(file string) (m mediaName, ok bool) {
	m.part = -1
	switch {
	case validSegment(file):
		m.kind = segmentKind
		return m, true
	case strings.HasPrefix(file, "init-") && strings.HasSuffix(file, ".mp4"):
		seq := file[len("init-") : len(file)-len(".mp4")]
		m.kind = fmp4Kind
		return m, validDigits(seq, maxSegmentDigits)
	case strings.HasSuffix(file, ".m4s"):
		seq, part, isPart := strings.Cut(file[:len(file)-len(".m4s")], ".")
		if !validDigits(seq, maxSegmentDigits) || isPart && !validDigits(part, maxPartDigits) {
			return m, false
		}
		m.kind = fmp4Kind
		n, err := strconv.ParseInt(seq, 10, 64)
		m.seq, m.waitable = n, err == nil
		if isPart {
			m.part, _ = strconv.Atoi(part) // at most maxPartDigits digits
		}
		return m, true
	}
	return m, false
}

// validDigits reports whether s is 1 to max decimal digits.
func validDigits(s string, max int) bool {
	return len(s) > 0 && len(s) <= max && all(s, isDigit)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// validPlaybackID reports whether pid is 1 to maxPlaybackIDLen ASCII
// letters and digits.
func validPlaybackID(pid string) bool {
	return len(pid) > 0 && len(pid) <= maxPlaybackIDLen && all(pid, isAlnum)
}

// validRendition reports whether name is 1 to maxRenditionLen ASCII
// letters, digits, '_' and '-'.
func validRendition(name string) bool {
	return len(name) > 0 && len(name) <= maxRenditionLen &&
		all(name, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' })
}

// validSegment reports whether file is a segment's name: 1 to
// maxSegmentDigits decimal digits and ".ts".
func validSegment(file string) bool {
	n := len(file) - len(".ts")
	return n > 0 && file[n:] == ".ts" && validDigits(file[:n], maxSegmentDigits)
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
