package relay

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Default bases of the well-known destinations; URL appends the stream key.
const (
	YouTubeBase  = "rtmp://a.rtmp.youtube.com/live2"
	FacebookBase = "rtmps://live-api-s.facebook.com:443/rtmp"
	TwitchBase   = "rtmp://live-jfk.twitch.tv/app"
)

// Default ports of the schemes, used when a URL names none.
const (
	rtmpPort  = "1935"
	rtmpsPort = "443"
)

// URL builds a destination's URL: base + "/" + key, plus params as a query
// (?name=value&…, sorted by name). Errors never contain the key.
func URL(base, key string, params url.Values) (string, error) {
	if key == "" {
		return "", errors.New("relay URL: empty stream key")
	}
	if strings.ContainsAny(key, "/?#") || strings.ContainsFunc(key, isControl) {
		return "", errors.New("relay URL: stream key contains '/', '?', '#' or a control character")
	}
	if strings.ContainsAny(base, "?#") {
		return "", fmt.Errorf("relay URL base %s: has a query or fragment", redact(base))
	}
	u := strings.TrimRight(base, "/") + "/" + url.PathEscape(key)
	if len(params) > 0 {
		u += "?" + params.Encode() // Encode sorts by name
	}
	if _, err := parseDestination(u); err != nil {
		return "", err
	}
	return u, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// destination is a parsed rtmp:// or rtmps:// URL. app and name follow
// FFmpeg and OBS: the last path element (with the query) is the stream
// name, the path before it the application.
type destination struct {
	scheme string
	addr   string // host:port
	app    string
	name   string // the stream key and its query: secret
	tcURL  string // scheme://host[:port]/app: no key
	public string // scheme://host[:port]: what logs and Status show
}

// parseDestination parses raw. Its errors name the destination by its
// redacted form only.
func parseDestination(raw string) (*destination, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("relay URL %s: not a URL", redact(raw))
	}
	d := &destination{scheme: strings.ToLower(u.Scheme)}
	var port string
	switch d.scheme {
	case "rtmp":
		port = rtmpPort
	case "rtmps":
		port = rtmpsPort
	default:
		return nil, fmt.Errorf("relay URL %s: scheme must be rtmp or rtmps", redact(raw))
	}
	if u.Hostname() == "" || u.User != nil {
		return nil, fmt.Errorf("relay URL %s: needs a host and no user info", redact(raw))
	}
	if u.Port() != "" {
		port = u.Port()
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	d.public = d.scheme + "://" + u.Host
	path := strings.Trim(u.EscapedPath(), "/")
	i := strings.LastIndexByte(path, '/')
	if i <= 0 || i == len(path)-1 {
		return nil, fmt.Errorf("relay URL %s: path must be /app/streamkey", d.public)
	}
	app, err := url.PathUnescape(path[:i])
	if err != nil {
		return nil, fmt.Errorf("relay URL %s: application: %v", d.public, err)
	}
	name, err := url.PathUnescape(path[i+1:])
	if err != nil {
		return nil, fmt.Errorf("relay URL %s: stream key is not a valid path element", d.public)
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	d.app, d.name = app, name
	d.tcURL = d.public + "/" + app
	return d, nil
}

// redact returns scheme://host of raw, or "[invalid URL]": what may be
// shown of a destination.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "[invalid URL]"
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host
}

// Check validates a destination URL as Start does, and returns the part of
// it that may be shown: scheme://host[:port].
func Check(raw string) (public string, err error) {
	d, err := parseDestination(raw)
	if err != nil {
		return "", err
	}
	return d.public, nil
}
