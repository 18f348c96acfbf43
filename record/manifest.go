package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// A session's manifest is its spooled record: JSON lines appended (and
// fsynced) as the session goes, so that a Recorder started after a crash
// knows the session, its renditions and every segment it accepted:
//
//	{"k":"start","playback_id":"abc","session":1732430000000,"started_ms":1732430000000,"renditions":[{"name":"720p","bandwidth":3000000,…}]}
//	{"k":"init","rendition":"720p","name":"init-1732430000000.mp4","size":812}
//	{"k":"segment","rendition":"720p","seq":1732430000000,"duration_us":2000000,"size":524288,"pts":126000,"ext":".m4s","init":"init-1732430000000.mp4","pdt_ms":1732430000123}
//	{"k":"drop","rendition":"720p","seq":1732430002000}
//	{"k":"end"}
//
// A segment's (or an init section's) line is appended after its file is
// durably in the spool, and is the point where Session.Segment (Init)
// commits: a file without a line was never accepted. A crash during an
// append leaves a last line without its newline, which the reader ignores.
//
// An MPEG-TS segment's line has no "ext" and no "init" (manifests written
// before fMP4 recordings read as TS); an fMP4 segment's names its
// extension and its init section, whose line comes before it.
const manifestName = "manifest.jsonl"

// Limits of the manifest reader: a manifest is our own file, but it is read
// back after crashes and from disks that may hold anything, so nothing in
// it may make the reader allocate without bound or panic.
const (
	// maxManifestLine is far above a start line with a dozen renditions.
	maxManifestLine = 16 << 10
	// maxRenditions bounds a ladder: ours has three or four.
	maxRenditions = 32
	// maxSegmentDuration is far above any GOP we cut on.
	maxSegmentDuration = time.Hour
	// maxSegmentSize is far above a 2 s segment at any ladder bitrate.
	maxSegmentSize = 1 << 30
	// maxInitSize is far above an init section (moov with two tracks and
	// their parameter sets: about a kilobyte).
	maxInitSize = 1 << 20
	// maxSeqDigits is the length of the largest int64, the type of a media
	// sequence number, as an init section's name holds it.
	maxSeqDigits = 19
)

// Extensions of a recording's files.
const (
	extTS   = ".ts"  // MPEG-TS segment
	extM4S  = ".m4s" // fMP4 (CMAF) media segment
	extInit = ".mp4" // fMP4 init section
)

// validInitName reports whether name is an init section's name as hlsmux
// writes it: "init-<seq>.mp4", seq 1 to maxSeqDigits decimal digits.
func validInitName(name string) bool {
	seq, ok := strings.CutPrefix(name, "init-")
	if ok {
		seq, ok = strings.CutSuffix(seq, extInit)
	}
	if !ok || len(seq) == 0 || len(seq) > maxSeqDigits {
		return false
	}
	for i := 0; i < len(seq); i++ {
		if seq[i] < '0' || seq[i] > '9' {
			return false
		}
	}
	return true
}

// segmentFile is a segment's file and object name under its rendition:
// "<seq>.ts" or "<seq>.m4s".
func segmentFile(seq int64, ext string) string { return strconv.FormatInt(seq, 10) + ext }

// manifest is what a session's manifest says.
type manifest struct {
	PlaybackID string
	Session    int64 // the session id: start time in Unix ms, made unique
	StartedAt  time.Time
	Renditions []hlsmux.Variant // the recorded ones, their URI empty
	// Master says the layout: a master playlist and one media playlist
	// per rendition (RenditionsAll), rather than vod-<session id>.m3u8
	// being the one rendition's media playlist.
	Master  bool
	Entries []manifestEntry // segments and drops, in the order accepted
	Ended   bool
}

// manifestEntry is one accepted segment, a dropped one, or an init
// section.
type manifestEntry struct {
	Rendition string
	// Seg is a segment's Seq, Name (its file: "<seq>.ts" or "<seq>.m4s"),
	// Duration, Size, StartPTS, Discontinuity, Init (its init section's
	// name, "" for TS) and ProgramDateTime (to the millisecond); a drop's
	// Seq; an init section's Name and Size.
	Seg     hlsmux.SegmentInfo
	Dropped bool
	Init    bool // an init section
}

// manifestLine is the JSON of one line; K says which fields count.
type manifestLine struct {
	K string `json:"k"`

	PlaybackID string              `json:"playback_id,omitempty"`
	Session    int64               `json:"session,omitempty"`
	StartedMS  int64               `json:"started_ms,omitempty"`
	Renditions []manifestRendition `json:"renditions,omitempty"`
	Master     bool                `json:"master,omitempty"`

	Rendition     string `json:"rendition,omitempty"`
	Seq           int64  `json:"seq,omitempty"`
	DurationUS    int64  `json:"duration_us,omitempty"`
	Size          int    `json:"size,omitempty"`
	PTS           int64  `json:"pts,omitempty"`
	Discontinuity bool   `json:"disc,omitempty"`
	Ext           string `json:"ext,omitempty"`  // ".m4s"; none for ".ts"
	Init          string `json:"init,omitempty"` // the segment's init section
	PDTMS         int64  `json:"pdt_ms,omitempty"`
	Name          string `json:"name,omitempty"` // an init section's
}

type manifestRendition struct {
	Name             string  `json:"name"`
	Bandwidth        int     `json:"bandwidth,omitempty"`
	AverageBandwidth int     `json:"average_bandwidth,omitempty"`
	Width            int     `json:"width,omitempty"`
	Height           int     `json:"height,omitempty"`
	Codecs           string  `json:"codecs,omitempty"`
	FrameRate        float64 `json:"frame_rate,omitempty"`
}

// startLine is the manifest's first line.
func startLine(m *manifest) []byte {
	l := manifestLine{K: "start", PlaybackID: m.PlaybackID, Session: m.Session, StartedMS: m.StartedAt.UnixMilli(), Master: m.Master}
	for _, v := range m.Renditions {
		l.Renditions = append(l.Renditions, manifestRendition{Name: v.Name, Bandwidth: v.Bandwidth,
			AverageBandwidth: v.AverageBandwidth, Width: v.Width, Height: v.Height, Codecs: v.Codecs, FrameRate: v.FrameRate})
	}
	return encodeLine(l)
}

// entryLine is the line of a segment, a drop or an init section.
func entryLine(e manifestEntry) []byte {
	switch {
	case e.Dropped:
		return encodeLine(manifestLine{K: "drop", Rendition: e.Rendition, Seq: e.Seg.Seq})
	case e.Init:
		return encodeLine(manifestLine{K: "init", Rendition: e.Rendition, Name: e.Seg.Name, Size: e.Seg.Size})
	}
	l := manifestLine{K: "segment", Rendition: e.Rendition, Seq: e.Seg.Seq,
		DurationUS: e.Seg.Duration.Microseconds(), Size: e.Seg.Size, PTS: e.Seg.StartPTS, Discontinuity: e.Seg.Discontinuity,
		Init: e.Seg.Init}
	if ext := path.Ext(e.Seg.Name); ext != extTS {
		l.Ext = ext
	}
	if !e.Seg.ProgramDateTime.IsZero() {
		l.PDTMS = e.Seg.ProgramDateTime.UnixMilli()
	}
	return encodeLine(l)
}

func endLine() []byte { return encodeLine(manifestLine{K: "end"}) }

func encodeLine(l manifestLine) []byte {
	b, err := json.Marshal(l)
	if err != nil { // only plain fields: cannot happen
		panic(err)
	}
	return append(b, '\n')
}

// encode is the whole manifest, as the appends would have written it.
func (m *manifest) encode() []byte {
	b := startLine(m)
	for _, e := range m.Entries {
		b = append(b, entryLine(e)...)
	}
	if m.Ended {
		b = append(b, endLine()...)
	}
	return b
}

// parseManifest reads a manifest. A last line without its newline (an
// append cut by a crash) is ignored; anything else that is not a valid
// line in its place is an error naming the line.
func parseManifest(data []byte) (*manifest, error) {
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1] // a torn last line
	}
	if len(data) == 0 {
		return nil, errors.New("manifest: empty")
	}
	m := &manifest{}
	p := &manifestParser{names: map[string]bool{}, lastSeq: map[string]int64{}, inits: map[string]bool{}}
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		line := data[:i]
		data = data[i+1:]
		if err := m.parseLine(n, line, p); err != nil {
			return nil, fmt.Errorf("manifest line %d: %w", n, err)
		}
	}
	return m, nil
}

// manifestParser is what parseLine checks a line against.
type manifestParser struct {
	names   map[string]bool  // the renditions of the start line
	lastSeq map[string]int64 // by rendition
	inits   map[string]bool  // "<rendition>/<name>" of the init lines so far
}

func (m *manifest) parseLine(n int, line []byte, p *manifestParser) error {
	if len(line) > maxManifestLine {
		return fmt.Errorf("%d bytes, more than %d", len(line), maxManifestLine)
	}
	var l manifestLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	switch {
	case n == 1 && l.K != "start":
		return fmt.Errorf("%q where the start line must be", l.K)
	case n > 1 && l.K == "start":
		return errors.New("a second start line")
	case m.Ended:
		return fmt.Errorf("%q after the end line", l.K)
	}
	switch l.K {
	case "start":
		return m.parseStart(l, p.names)
	case "init":
		return m.parseInit(l, p)
	case "segment", "drop":
		if l.PlaybackID != "" || l.Session != 0 || l.StartedMS != 0 || l.Renditions != nil || l.Master {
			return fmt.Errorf("a %s line with start fields", l.K)
		}
		if !p.names[l.Rendition] {
			return fmt.Errorf("rendition %q is not in the start line", l.Rendition)
		}
		if last, ok := p.lastSeq[l.Rendition]; ok && l.Seq <= last {
			return fmt.Errorf("%s seq %d: not after %d", l.Rendition, l.Seq, last)
		}
		if l.Seq < 0 {
			return fmt.Errorf("%s seq %d: negative", l.Rendition, l.Seq)
		}
		if l.Name != "" {
			return fmt.Errorf("a %s line with a name", l.K)
		}
		p.lastSeq[l.Rendition] = l.Seq
		e := manifestEntry{Rendition: l.Rendition, Seg: hlsmux.SegmentInfo{Seq: l.Seq}, Dropped: l.K == "drop"}
		if l.K == "segment" {
			if err := parseSegment(l, p, &e.Seg); err != nil {
				return err
			}
		} else if l.DurationUS != 0 || l.Size != 0 || l.PTS != 0 || l.Discontinuity || l.Ext != "" || l.Init != "" || l.PDTMS != 0 {
			return errors.New("a drop line with segment fields")
		}
		m.Entries = append(m.Entries, e)
	case "end":
		if !bytes.Equal(encodeLine(l), endLine()) {
			return errors.New("an end line with fields")
		}
		m.Ended = true
	default:
		return fmt.Errorf("unknown kind %q", l.K)
	}
	return nil
}

// parseSegment reads a segment line's fields into seg, which has its Seq.
func parseSegment(l manifestLine, p *manifestParser, seg *hlsmux.SegmentInfo) error {
	d := time.Duration(l.DurationUS) * time.Microsecond
	if l.DurationUS < 0 || d > maxSegmentDuration {
		return fmt.Errorf("%s seq %d: duration %dµs: want 0 to %v", l.Rendition, l.Seq, l.DurationUS, maxSegmentDuration)
	}
	if l.Size < 0 || l.Size > maxSegmentSize {
		return fmt.Errorf("%s seq %d: size %d: want 0 to %d", l.Rendition, l.Seq, l.Size, maxSegmentSize)
	}
	if l.PDTMS < 0 {
		return fmt.Errorf("%s seq %d: program date-time %d: negative", l.Rendition, l.Seq, l.PDTMS)
	}
	ext := l.Ext
	switch {
	case ext == "" || ext == extTS:
		ext = extTS
		if l.Init != "" {
			return fmt.Errorf("%s seq %d: an MPEG-TS segment with an init section", l.Rendition, l.Seq)
		}
	case ext == extM4S:
		if !p.inits[l.Rendition+"/"+l.Init] {
			return fmt.Errorf("%s seq %d: init section %q: not in an init line before", l.Rendition, l.Seq, l.Init)
		}
	default:
		return fmt.Errorf("%s seq %d: extension %q: want %s or %s", l.Rendition, l.Seq, l.Ext, extTS, extM4S)
	}
	seg.Name = segmentFile(l.Seq, ext)
	seg.Duration, seg.Size, seg.StartPTS, seg.Discontinuity, seg.Init = d, l.Size, l.PTS, l.Discontinuity, l.Init
	if l.PDTMS != 0 {
		seg.ProgramDateTime = time.UnixMilli(l.PDTMS)
	}
	return nil
}

// parseInit reads an init line.
func (m *manifest) parseInit(l manifestLine, p *manifestParser) error {
	if l.PlaybackID != "" || l.Session != 0 || l.StartedMS != 0 || l.Renditions != nil || l.Master {
		return errors.New("an init line with start fields")
	}
	if l.Seq != 0 || l.DurationUS != 0 || l.PTS != 0 || l.Discontinuity || l.Ext != "" || l.Init != "" || l.PDTMS != 0 {
		return errors.New("an init line with segment fields")
	}
	if !p.names[l.Rendition] {
		return fmt.Errorf("rendition %q is not in the start line", l.Rendition)
	}
	if !validInitName(l.Name) {
		return fmt.Errorf("%s init section %q: want init-<seq>%s", l.Rendition, l.Name, extInit)
	}
	if p.inits[l.Rendition+"/"+l.Name] {
		return fmt.Errorf("%s init section %q twice", l.Rendition, l.Name)
	}
	if l.Size < 0 || l.Size > maxInitSize {
		return fmt.Errorf("%s init section %q: size %d: want 0 to %d", l.Rendition, l.Name, l.Size, maxInitSize)
	}
	p.inits[l.Rendition+"/"+l.Name] = true
	m.Entries = append(m.Entries, manifestEntry{Rendition: l.Rendition, Seg: hlsmux.SegmentInfo{Name: l.Name, Size: l.Size}, Init: true})
	return nil
}

func (m *manifest) parseStart(l manifestLine, names map[string]bool) error {
	if err := checkPart("playback id", l.PlaybackID); err != nil {
		return err
	}
	if l.Session <= 0 {
		return fmt.Errorf("session id %d: must be positive", l.Session)
	}
	if len(l.Renditions) == 0 || len(l.Renditions) > maxRenditions {
		return fmt.Errorf("%d renditions: want 1 to %d", len(l.Renditions), maxRenditions)
	}
	m.PlaybackID, m.Session, m.StartedAt, m.Master = l.PlaybackID, l.Session, time.UnixMilli(l.StartedMS), l.Master
	if !m.Master && len(l.Renditions) != 1 {
		return fmt.Errorf("%d renditions without a master playlist: want 1", len(l.Renditions))
	}
	for _, r := range l.Renditions {
		if err := checkPart("rendition", r.Name); err != nil {
			return err
		}
		if names[r.Name] {
			return fmt.Errorf("rendition %q twice", r.Name)
		}
		if r.Bandwidth < 0 || r.AverageBandwidth < 0 || r.Width < 0 || r.Height < 0 || r.FrameRate < 0 {
			return fmt.Errorf("rendition %q: a negative bandwidth, size or frame rate", r.Name)
		}
		if !validCodecs(r.Codecs) {
			return fmt.Errorf("rendition %q: codecs %q: want letters, digits and .,-_", r.Name, r.Codecs)
		}
		names[r.Name] = true
		m.Renditions = append(m.Renditions, hlsmux.Variant{Name: r.Name, Bandwidth: r.Bandwidth,
			AverageBandwidth: r.AverageBandwidth, Width: r.Width, Height: r.Height, Codecs: r.Codecs, FrameRate: r.FrameRate})
	}
	return nil
}

// validCodecs accepts an RFC 6381 codecs list ("avc1.4d401f,mp4a.40.2"):
// it is written into a quoted playlist attribute, where a quote or a
// newline would break the playlist.
func validCodecs(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ',' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionName is a session id as names write it.
func sessionName(id int64) string { return strconv.FormatInt(id, 10) }
