package origin

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// blockingQuery is the delivery directives of a media playlist request
// (RFC 8216bis §6.2.5): _HLS_msn and _HLS_part ask the server to hold the
// answer until the playlist lists that segment or part (blocking playlist
// reload), _HLS_skip for a delta update (EXT-X-SKIP). The zero value asks
// for neither.
type blockingQuery struct {
	// blocking says _HLS_msn was given; msn and part are meaningful only
	// then.
	blocking bool
	msn      int64
	// part is _HLS_part, or -1 without it: the whole segment msn.
	part int
	// skip is _HLS_skip: "", "YES" or "v2".
	skip string
}

// The directives' names, and the values _HLS_skip takes.
const (
	paramMSN  = "_HLS_msn"
	paramPart = "_HLS_part"
	paramSkip = "_HLS_skip"
	skipYes   = "YES"
	skipV2    = "v2" // skip EXT-X-DATERANGE tags as well
)

// errBadQuery is a malformed delivery directive: the handler answers 400,
// as RFC 8216bis §6.2.5.2 has a server answer a request it cannot serve as
// asked, rather than serve a playlist the client did not ask for.
var errBadQuery = errors.New("malformed delivery directive")

// parseBlockingQuery parses the raw query of a media playlist request.
// It is strict about the three directives, each at most once, with
// values as the spec writes them: decimal-integers of at most
// maxSegmentDigits (an int64) and maxPartDigits digits, no sign;
// _HLS_part only with _HLS_msn; _HLS_skip YES or v2. Other parameters
// (a cache buster, a CDN's token) are ignored, as the spec asks.
// Escapes are decoded as url.ParseQuery does; a piece whose escapes are
// malformed is an error, since nobody can say which parameter it was.
func parseBlockingQuery(raw string) (blockingQuery, error) {
	q := blockingQuery{part: -1}
	var seen [3]bool
	for raw != "" {
		var piece string
		piece, raw, _ = strings.Cut(raw, "&")
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return blockingQuery{}, errBadQuery
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return blockingQuery{}, errBadQuery
		}
		var i int
		switch key {
		case paramMSN:
			if !validDigits(value, maxSegmentDigits) {
				return blockingQuery{}, errBadQuery
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return blockingQuery{}, errBadQuery
			}
			q.blocking, q.msn, i = true, n, 0
		case paramPart:
			if !validDigits(value, maxPartDigits) {
				return blockingQuery{}, errBadQuery
			}
			q.part, _ = strconv.Atoi(value)
			i = 1
		case paramSkip:
			if value != skipYes && value != skipV2 {
				return blockingQuery{}, errBadQuery
			}
			q.skip, i = value, 2
		default:
			continue
		}
		if seen[i] {
			return blockingQuery{}, errBadQuery
		}
		seen[i] = true
	}
	if q.part >= 0 && !q.blocking {
		// RFC 8216bis §6.2.5.2: _HLS_part without _HLS_msn is a 400.
		return blockingQuery{}, errBadQuery
	}
	return q, nil
}

// encode is q in its one canonical form: the directives alone, in the
// order _HLS_msn, _HLS_part, _HLS_skip, numbers without leading zeros;
// "" for the zero value. Requests that mean the same encode the same, so
// the Cluster fetches and caches them once.
func (q blockingQuery) encode() string {
	var b []byte
	if q.blocking {
		b = append(b, paramMSN+"="...)
		b = strconv.AppendInt(b, q.msn, 10)
		if q.part >= 0 {
			b = append(b, "&"+paramPart+"="...)
			b = strconv.AppendInt(b, int64(q.part), 10)
		}
	}
	if q.skip != "" {
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, paramSkip+"="+q.skip...)
	}
	return string(b)
}
