package deploy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// imageRef is an image reference split as Docker and Kubernetes read it:
// [HOST[:PORT]/]PATH[:TAG][@DIGEST].
type imageRef struct {
	name, tag, digest string
}

// parseImage splits ref. The tag is after the last colon of the last path
// element only, so that a registry's port ("localhost:5000/livestream") is
// not taken for one.
func parseImage(ref string) imageRef {
	var r imageRef
	ref, r.digest, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref, r.tag = ref[:colon], ref[colon+1:]
	}
	r.name = ref
	return r
}

func (r imageRef) String() string {
	s := r.name
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// sha256Digest is a content digest, which pins an image whatever its tag.
var sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// floatingTags name whatever was pushed last, not a version.
var floatingTags = map[string]bool{"latest": true, "stable": true, "edge": true, "main": true, "master": true, "nightly": true}

// pinned says why ref may run another image tomorrow than today, or nil:
// it must carry a digest, or a tag that names a version (a digit in it:
// 7.4.5-bookworm, RELEASE.2025-09-07T16-13-09Z, 0.1.0) rather than a
// branch. A major version alone ("redis:7") moves too.
func pinned(ref string) error {
	r := parseImage(ref)
	switch {
	case r.name == "":
		return fmt.Errorf("image %q: no name", ref)
	case r.digest != "":
		if !sha256Digest.MatchString(r.digest) {
			return fmt.Errorf("image %q: digest %q: want sha256:<64 hex digits>", ref, r.digest)
		}
		return nil
	case r.tag == "":
		return fmt.Errorf("image %q: no tag, which means latest: pin a version", ref)
	case floatingTags[strings.ToLower(r.tag)]:
		return fmt.Errorf("image %q: tag %s moves: pin a version", ref, r.tag)
	case !strings.ContainsAny(r.tag, "0123456789"):
		return fmt.Errorf("image %q: tag %s names no version: pin one", ref, r.tag)
	}
	if n, err := strconv.Atoi(r.tag); err == nil && n >= 0 {
		return fmt.Errorf("image %q: tag %s is a major version, which moves: pin a release (%s.x.y)", ref, r.tag, r.tag)
	}
	return nil
}

// composePort is one entry of a Compose service's short "ports" syntax,
// [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL], ports or ranges.
type composePort struct {
	hostIP, hostPort, container, protocol string
}

// parseComposePort splits a short port entry; an IPv6 host address is in
// brackets. A missing host IP means every interface of the host.
func parseComposePort(s string) (composePort, error) {
	var p composePort
	rest, proto, _ := strings.Cut(s, "/")
	p.protocol = proto
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return p, fmt.Errorf("port %q: unclosed IPv6 address", s)
		}
		p.hostIP, rest = rest[1:end], rest[end+2:]
		host, container, ok := strings.Cut(rest, ":")
		if !ok {
			return p, fmt.Errorf("port %q: want [IP]:HOST_PORT:CONTAINER_PORT", s)
		}
		p.hostPort, p.container = host, container
	} else {
		switch parts := strings.Split(rest, ":"); len(parts) {
		case 1:
			p.container = parts[0]
		case 2:
			p.hostPort, p.container = parts[0], parts[1]
		case 3:
			p.hostIP, p.hostPort, p.container = parts[0], parts[1], parts[2]
			if p.hostIP == "" {
				return p, fmt.Errorf("port %q: empty host address", s)
			}
		default:
			return p, fmt.Errorf("port %q: want [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]", s)
		}
	}
	if _, _, err := portRange(p.container); err != nil {
		return p, fmt.Errorf("port %q: container port: %v", s, err)
	}
	if p.hostPort != "" || strings.Contains(rest, ":") {
		if _, _, err := portRange(p.hostPort); err != nil {
			return p, fmt.Errorf("port %q: host port: %v", s, err)
		}
	}
	return p, nil
}

// portRange parses "8081" or "8081-8083".
func portRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil || lo < 1 || lo > 65535 {
		return 0, 0, fmt.Errorf("%q: want a port, 1 to 65535, or a range", s)
	}
	hi = lo
	if isRange {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > 65535 {
			return 0, 0, fmt.Errorf("%q: want a port, 1 to 65535, or a range", s)
		}
	}
	return lo, hi, nil
}

// publishes reports whether p publishes container port port.
func (p composePort) publishes(port int) bool {
	lo, hi, err := portRange(p.container)
	return err == nil && lo <= port && port <= hi
}

// loopback reports whether p is published on the host's loopback only.
func (p composePort) loopback() bool {
	return p.hostIP == "127.0.0.1" || p.hostIP == "::1" || p.hostIP == "localhost"
}

var imageCases = []struct {
	ref  string
	want imageRef
	ok   bool
}{
	{"redis:7.4.5-bookworm", imageRef{"redis", "7.4.5-bookworm", ""}, true},
	{"minio/minio:RELEASE.2025-09-07T16-13-09Z", imageRef{"minio/minio", "RELEASE.2025-09-07T16-13-09Z", ""}, true},
	{"localhost:5000/livestream:0.1.0", imageRef{"localhost:5000/livestream", "0.1.0", ""}, true},
	{"livestream:compose", imageRef{"livestream", "compose", ""}, false},
	{"redis:7", imageRef{"redis", "7", ""}, false},
	{"redis", imageRef{"redis", "", ""}, false},
	{"localhost:5000/livestream", imageRef{"localhost:5000/livestream", "", ""}, false},
	{"minio/minio:latest", imageRef{"minio/minio", "latest", ""}, false},
	{"ghcr.io/x/y:stable", imageRef{"ghcr.io/x/y", "stable", ""}, false},
	{"redis@sha256:" + strings.Repeat("ab", 32), imageRef{"redis", "", "sha256:" + strings.Repeat("ab", 32)}, true},
	{"redis:latest@sha256:" + strings.Repeat("0f", 32), imageRef{"redis", "latest", "sha256:" + strings.Repeat("0f", 32)}, true},
	{"redis@sha256:abc", imageRef{"redis", "", "sha256:abc"}, false},
	{"", imageRef{}, false},
}

func TestParseImage(t *testing.T) {
	for _, c := range imageCases {
		if got := parseImage(c.ref); got != c.want {
			t.Errorf("parseImage(%q) = %+v, want %+v", c.ref, got, c.want)
		}
		if err := pinned(c.ref); (err == nil) != c.ok {
			t.Errorf("pinned(%q) = %v, want pinned %v", c.ref, err, c.ok)
		}
	}
}

// FuzzParseImage: a reference splits and joins back to itself, and a
// reference without a digest and with a floating or no tag is never
// pinned.
func FuzzParseImage(f *testing.F) {
	for _, c := range imageCases {
		f.Add(c.ref)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r := parseImage(ref)
		// An empty tag or digest ("redis:", "redis@") is dropped.
		beforeDigest, _, _ := strings.Cut(ref, "@")
		exact := strings.Count(ref, "@") <= 1 && !strings.HasSuffix(ref, "@") && !strings.HasSuffix(beforeDigest, ":")
		if exact && r.String() != ref {
			t.Errorf("parseImage(%q) = %+v, which joins to %q", ref, r, r.String())
		}
		if strings.Contains(r.tag, "/") {
			t.Errorf("parseImage(%q): tag %q holds a slash", ref, r.tag)
		}
		if err := pinned(ref); err == nil && r.digest == "" && (r.tag == "" || floatingTags[strings.ToLower(r.tag)]) {
			t.Errorf("pinned(%q) = nil without a digest or a version tag", ref)
		}
	})
}

var composePortCases = []struct {
	in   string
	want composePort
	ok   bool
}{
	{"8080:8080", composePort{"", "8080", "8080", ""}, true},
	{"127.0.0.1:8081:8081", composePort{"127.0.0.1", "8081", "8081", ""}, true},
	{"[::1]:8081:8081/tcp", composePort{"::1", "8081", "8081", "tcp"}, true},
	{"8081", composePort{"", "", "8081", ""}, true},
	{"0.0.0.0:9000-9001:9000-9001", composePort{"0.0.0.0", "9000-9001", "9000-9001", ""}, true},
	{"1935:1935/udp", composePort{"", "1935", "1935", "udp"}, true},
	{"a:b:c:d", composePort{}, false},
	{":1", composePort{}, false},
	{":8080:8080", composePort{}, false},
	{"127.0.0.1:8081:x", composePort{}, false},
	{"[::1:8081:8081", composePort{}, false},
	{"70000", composePort{}, false},
}

func TestParseComposePort(t *testing.T) {
	for _, c := range composePortCases {
		got, err := parseComposePort(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseComposePort(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	p, _ := parseComposePort("127.0.0.1:9000-9002:8080-8082")
	if !p.publishes(8081) || p.publishes(8083) || !p.loopback() {
		t.Errorf("%+v: publishes 8081 %v, 8083 %v, loopback %v", p, p.publishes(8081), p.publishes(8083), p.loopback())
	}
}

// FuzzParseComposePort: an entry that parses publishes a valid container
// port, joins back to itself, and is on the loopback only when it names a
// loopback address.
func FuzzParseComposePort(f *testing.F) {
	for _, c := range composePortCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseComposePort(s)
		if err != nil {
			return
		}
		lo, hi, err := portRange(p.container)
		if err != nil || !p.publishes(lo) || !p.publishes(hi) || p.publishes(hi+1) {
			t.Errorf("parseComposePort(%q) = %+v: container ports %d-%d, %v", s, p, lo, hi, err)
		}
		if p.loopback() && !strings.Contains(s, p.hostIP) {
			t.Errorf("parseComposePort(%q) = %+v: loopback not in the entry", s, p)
		}
		host := p.hostIP
		if strings.Contains(host, ":") || strings.HasPrefix(s, "[") {
			host = "[" + host + "]"
		}
		joined := p.container
		if p.hostPort != "" {
			joined = p.hostPort + ":" + joined
			if host != "" {
				joined = host + ":" + joined
			}
		}
		if p.protocol != "" || strings.Contains(s, "/") {
			joined += "/" + p.protocol
		}
		if joined != s {
			t.Errorf("parseComposePort(%q) = %+v, which joins to %q", s, p, joined)
		}
	})
}
