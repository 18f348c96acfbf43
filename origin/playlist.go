package origin

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// What the origin reads of a media playlist: a few tags, found at the
// start of a line (never the first line, #EXTM3U is), without parsing the
// rest. A playlist from a server gone wrong gives the defaults.

var (
	// targetDurationTag bounds the segments' duration (RFC 8216, 4.3.3.1).
	targetDurationTag = []byte("\n#EXT-X-TARGETDURATION:")
	// partInfTag marks a low-latency playlist (RFC 8216bis 4.4.3.7), and
	// gives its part target.
	partInfTag = []byte("\n#EXT-X-PART-INF:")
	// canBlockReload is the EXT-X-SERVER-CONTROL attribute that says the
	// server holds blocking playlist requests (RFC 8216bis 4.4.3.8).
	canBlockReloadAttr = []byte("CAN-BLOCK-RELOAD=YES")
	// renditionReportTag is EXT-X-RENDITION-REPORT (RFC 8216bis 4.4.5.4).
	renditionReportTag = []byte("\n#EXT-X-RENDITION-REPORT:")
)

// maxTargetDigits bounds the target's decimal-integer: more digits than
// any sane target, fewer than overflow an int64 of seconds.
const maxTargetDigits = 9

// tagValue returns the rest of the line after tag, without its CR.
func tagValue(playlist, tag []byte) ([]byte, bool) {
	i := bytes.Index(playlist, tag)
	if i < 0 {
		return nil, false
	}
	v := playlist[i+len(tag):]
	if end := bytes.IndexByte(v, '\n'); end >= 0 {
		v = v[:end]
	}
	return bytes.TrimSuffix(v, []byte("\r")), true
}

// targetDuration is the playlist's EXT-X-TARGETDURATION; ok is false
// without a valid one.
func targetDuration(playlist []byte) (d time.Duration, ok bool) {
	v, found := tagValue(playlist, targetDurationTag)
	if !found || len(v) == 0 || len(v) > maxTargetDigits {
		return 0, false
	}
	secs, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || secs == 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// maxPartTargetLen bounds PART-TARGET's decimal-floating-point ("0.500").
const maxPartTargetLen = 12

// partTarget is the playlist's EXT-X-PART-INF PART-TARGET; ok is false
// when the playlist is not a low-latency one, or its value is not a
// positive number of seconds below the target bound.
func partTarget(playlist []byte) (d time.Duration, ok bool) {
	v, found := tagValue(playlist, partInfTag)
	if !found {
		return 0, false
	}
	_, v, found = bytes.Cut(v, []byte("PART-TARGET="))
	if !found {
		return 0, false
	}
	if end := bytes.IndexByte(v, ','); end >= 0 {
		v = v[:end]
	}
	if len(v) == 0 || len(v) > maxPartTargetLen || !all(string(v), func(c byte) bool { return isDigit(c) || c == '.' }) {
		return 0, false
	}
	secs, err := strconv.ParseFloat(string(v), 64)
	if err != nil || secs <= 0 || secs > 60 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// lowLatency reports whether playlist is a low-latency one: it lists
// parts (EXT-X-PART-INF).
func lowLatency(playlist []byte) bool { return bytes.Contains(playlist, partInfTag) }

// canBlockReload reports whether playlist's server holds blocking
// requests: only then does a request with _HLS_msn block, and its answer
// become cacheable. A TS playlist of ours does not say so, and its
// requests are served as they always were.
func canBlockReload(playlist []byte) bool { return bytes.Contains(playlist, canBlockReloadAttr) }

// Blocking requests wait for at most three target durations, as RFC
// 8216bis §6.2.5.2 has a server answer 503 after that.
const (
	blockTargets = 3
	// defaultBlockWait is for a playlist without a valid target: three
	// of the default 6 s target.
	defaultBlockWait = blockTargets * 6 * time.Second
	// maxBlockWait bounds the wait whatever a playlist says: three of
	// a 10 s target, the longest anyone uses. The Cluster's fetches of
	// requests that may block have this much more time.
	maxBlockWait = blockTargets * 10 * time.Second
)

// blockWait is how long a blocking request on playlist waits.
func blockWait(playlist []byte) time.Duration {
	target, ok := targetDuration(playlist)
	if !ok {
		return defaultBlockWait
	}
	return min(blockTargets*target, maxBlockWait)
}

// Blocking answers (RFC 8216bis §6.2.5.2) are cacheable: their URL names
// a segment or part, and any playlist that lists it answers it rightly.
// A viewer at the live edge asks for the next part, a new URL, so only
// viewers asking for the same part share an answer, within a part
// duration of each other. max-age is one target duration: well within
// the time a live playlist keeps what it lists (its window of several
// targets, plus the grace period before segments leave the store), so a
// viewer who arrives late still gets a playlist whose segments it can
// fetch; and it is long enough for a CDN to answer a crowd with one fetch.
const (
	defaultBlockingMaxAge = 6 // s, without a valid target
	maxBlockingMaxAge     = 10
)

// blockingCacheControl is the Cache-Control of a blocking answer.
func blockingCacheControl(playlist []byte) string {
	return "public, max-age=" + strconv.Itoa(int(blockingTTL(playlist)/time.Second))
}

// blockingTTL is how long a blocking answer stays fresh: one target
// duration, 1 to maxBlockingMaxAge s.
func blockingTTL(playlist []byte) time.Duration {
	target, ok := targetDuration(playlist)
	if !ok {
		return defaultBlockingMaxAge * time.Second
	}
	return min(max(target, time.Second), maxBlockingMaxAge*time.Second)
}

// withRenditionReports returns playlist followed by an
// EXT-X-RENDITION-REPORT (RFC 8216bis 4.4.5.4) for each of others, in a
// new slice. LAST-MSN and LAST-PART are the last part each lists. A
// playlist that reports already (a segmenter that writes them) is
// returned as it is, and names that are not valid renditions are left
// out: they are written between quotes.
func withRenditionReports(playlist []byte, others []hlsmux.RenditionPosition) []byte {
	if len(others) == 0 || bytes.Contains(playlist, renditionReportTag) {
		return playlist
	}
	out := make([]byte, 0, len(playlist)+1+len(others)*96)
	out = append(out, playlist...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	for _, o := range others {
		if validRendition(o.Name) {
			out = fmt.Appendf(out, "#EXT-X-RENDITION-REPORT:URI=\"../%s/%s\",LAST-MSN=%d,LAST-PART=%d\n",
				o.Name, playlistName, o.MSN, o.Part)
		}
	}
	return out
}
