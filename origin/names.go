package origin

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
)

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
	return n > 0 && n <= maxSegmentDigits && file[n:] == ".ts" &&
		all(file[:n], func(c byte) bool { return '0' <= c && c <= '9' })
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
