package hlsmux

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/livestream/livestream/media"
)

// historyStore records every version of the playlists put in it.
type historyStore struct {
	Store
	mu     sync.Mutex
	full   [][]byte
	delta  [][]byte
	puts   []string
	onFull func(data []byte)
}

func (h *historyStore) Put(name string, data []byte) error {
	if err := h.Store.Put(name, data); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.puts = append(h.puts, name)
	switch filepath.Base(name) {
	case playlistName:
		h.full = append(h.full, data)
		if h.onFull != nil {
			h.onFull(data)
		}
	case deltaName:
		h.delta = append(h.delta, data)
	}
	return nil
}

// llPlaylist is a media playlist read back line by line.
type llPlaylist struct {
	tags     map[string]string // first value of each tag
	mediaSeq int64
	skipped  int
	segs     []llSegment
	open     []llPart // parts after the last segment
	hint     string
	ended    bool
	maps     int
}

type llSegment struct {
	uri    string
	extinf float64
	pdt    string
	parts  []llPart
	disc   bool
	mapURI string
}

type llPart struct {
	uri         string
	dur         float64
	independent bool
}

func attr(list, key string) string {
	for _, kv := range strings.Split(list, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func parseLL(t *testing.T, data []byte) llPlaylist {
	t.Helper()
	p := llPlaylist{tags: map[string]string{}}
	var cur llSegment
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "#EXTM3U" {
		t.Fatalf("playlist starts with %q", lines[0])
	}
	for _, l := range lines[1:] {
		tag, val, _ := strings.Cut(l, ":")
		if _, seen := p.tags[tag]; !seen && strings.HasPrefix(l, "#") {
			p.tags[tag] = val
		}
		switch tag {
		case "#EXT-X-MEDIA-SEQUENCE":
			p.mediaSeq, _ = strconv.ParseInt(val, 10, 64)
		case "#EXT-X-SKIP":
			p.skipped, _ = strconv.Atoi(attr(val, "SKIPPED-SEGMENTS"))
		case "#EXT-X-DISCONTINUITY":
			cur.disc = true
		case "#EXT-X-MAP":
			cur.mapURI = attr(val, "URI")
			p.maps++
		case "#EXT-X-PROGRAM-DATE-TIME":
			cur.pdt = val
		case "#EXT-X-PART":
			d, _ := strconv.ParseFloat(attr(val, "DURATION"), 64)
			cur.parts = append(cur.parts, llPart{uri: attr(val, "URI"), dur: d, independent: attr(val, "INDEPENDENT") == "YES"})
		case "#EXTINF":
			cur.extinf, _ = strconv.ParseFloat(strings.TrimSuffix(val, ","), 64)
		case "#EXT-X-PRELOAD-HINT":
			p.hint = attr(val, "URI")
		case "#EXT-X-ENDLIST":
			p.ended = true
		default:
			if !strings.HasPrefix(l, "#") {
				cur.uri = l
				p.segs = append(p.segs, cur)
				cur = llSegment{}
			}
		}
	}
	p.open = cur.parts
	return p
}

// TestSegmenterLowLatency writes real H.264 and AAC as an LL-HLS live
// rendition and checks every playlist it wrote, as a strict player would:
// the LL tags, parts within the part target that add up to their segment
// (bytes and time), independent parts at keyframes, preload hints that
// become parts, delta updates that rebuild the full playlist, the Edge
// in step with the playlist, and ffprobe reading the fMP4 it wrote.
func TestSegmenterLowLatency(t *testing.T) {
	video, audio := encode(t, 13)
	// Without a keyframe clock parts are cut when the picture after them
	// comes; with one, as soon as their last picture is written.
	lead := int64(media.ClockRate / 2)
	t.Run("late", func(t *testing.T) { testSegmenterLowLatency(t, video, audio, 0, lead) })
	t.Run("early", func(t *testing.T) { testSegmenterLowLatency(t, video, audio, 2*time.Second, lead) })
	// Audio that comes just after the part's last picture: the part is
	// cut when it comes, still before the next picture.
	shift := video[0].PTS - video[0].DTS
	t.Run("early, audio behind", func(t *testing.T) {
		testSegmenterLowLatency(t, video, audio, 2*time.Second, shift+frameTicks/6)
	})
}

// testSegmenterLowLatency writes video and audio, each audio frame lead
// ahead of the pictures, with keyframe clock keyint.
func testSegmenterLowLatency(t *testing.T, video, audio []*media.Packet, keyint time.Duration, lead int64) {
	dir := t.TempDir()
	ds, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := &historyStore{Store: ds}
	edge := NewEdge()
	// Every full playlist must agree with the Edge once it is advanced:
	// checked at the next put, when the Edge has caught up.
	var positions []Position
	var parts []PartInfo
	// written counts the pictures handed to WriteVideo (the one being
	// written included); listed, those in the parts listed.
	var written, listed int
	var early []bool // each part was listed before the picture after it came
	var inAudio bool // in WriteAudio
	var byAudio int  // parts listed by an audio frame's coming
	base := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "720p", Store: st, Type: Live, FirstSeq: 1000, Video: true,
		Audio: stereo48k, FrameDuration: frameTicks, Format: FMP4, TargetDuration: 2 * time.Second,
		PartTarget: 500 * time.Millisecond, Window: 20, Edge: edge, KeyframeInterval: keyint,
		Wallclock: func(pts int64) (time.Time, bool) { return base.Add(media.Duration(pts)), true },
		OnSegment: c.add,
		OnPart: func(p PartInfo) {
			parts = append(parts, p)
			pos, _ := edge.Position("720p")
			positions = append(positions, pos)
			listed += int((media.Ticks(p.Duration) + frameTicks/2) / frameTicks)
			early = append(early, listed == written)
			if inAudio {
				byAudio++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ai := 0
	for _, v := range video {
		for ai < len(audio) && audio[ai].PTS <= v.DTS+lead {
			inAudio = true
			if err := s.WriteAudio(audio[ai]); err != nil {
				t.Fatal(err)
			}
			inAudio = false
			ai++
		}
		written++
		if err := s.WriteVideo(v); err != nil {
			t.Fatal(err)
		}
	}
	for ; ai < len(audio); ai++ {
		if err := s.WriteAudio(audio[ai]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Audio well ahead of the pictures is there for every cut; audio
	// just behind them cuts every early part.
	if want := lead < media.ClockRate/4; (byAudio > 0) != want || want && byAudio < len(parts)-2 {
		t.Errorf("%d of %d parts listed as their audio came", byAudio, len(parts))
	}
	if len(c.infos) != 7 || len(parts) != 6*4+2 {
		t.Fatalf("%d segments and %d parts, want 7 segments (6 × 2 s and 1 s) of 4 parts (2 for the last)", len(c.infos), len(parts))
	}
	for i, p := range parts {
		// Listed late, a segment's last part is listed with the segment,
		// which the Edge marks complete; early, before the keyframe that
		// cuts the segment comes.
		lastOfSegment := i == len(parts)-1 || parts[i+1].Seq != p.Seq
		complete := lastOfSegment && !early[i]
		if pos := positions[i]; pos.MSN != p.Seq || pos.Part != p.Index || pos.Complete != complete {
			t.Errorf("part %s listed, Edge at %+v", p.Name, pos)
		}
		// A part is listed as soon as its last picture is written, but
		// for one that a keyframe may follow when there is no keyframe
		// clock: that one waits for the picture after it.
		if want := !lastOfSegment || keyint > 0 || i == len(parts)-1; early[i] != want {
			t.Errorf("part %s listed before the next picture came: %v, want %v", p.Name, early[i], want)
		}
	}
	if r, err := edge.Wait(context.Background(), "720p", 2000, 0); r != Ended || err != nil {
		t.Errorf("Wait after Close: %v %v, want Ended", r, err)
	}

	// Each segment is its parts, byte for byte, and lasts as long.
	for _, info := range c.infos {
		seg, err := ds.Get("720p/" + info.Name)
		if err != nil {
			t.Fatal(err)
		}
		var cat []byte
		var dur time.Duration
		for i, p := range info.Parts {
			b, err := ds.Get("720p/" + p.Name)
			if err != nil {
				t.Fatalf("part %s of %s: %v", p.Name, info.Name, err)
			}
			cat = append(cat, b...)
			dur += p.Duration
			if p.Independent != (i == 0) {
				t.Errorf("%s: INDEPENDENT=%v (every GOP starts a segment here)", p.Name, p.Independent)
			}
		}
		if !bytes.Equal(cat, seg) {
			t.Errorf("%s: %d bytes, its %d parts %d", info.Name, len(seg), len(info.Parts), len(cat))
		}
		if d := (dur - info.Duration).Abs(); d > 2*time.Millisecond {
			t.Errorf("%s: EXTINF %v, parts add up to %v", info.Name, info.Duration, dur)
		}
		if info.Init != "init-1000.mp4" || info.ProgramDateTime.IsZero() {
			t.Errorf("%s: init %q, date %v", info.Name, info.Init, info.ProgramDateTime)
		}
	}

	if len(st.full) != len(st.delta) {
		t.Fatalf("%d full playlists, %d deltas: written in pairs", len(st.full), len(st.delta))
	}
	var prev llPlaylist
	for i, data := range st.full {
		p := parseLL(t, data)
		for tag, want := range map[string]string{
			"#EXT-X-VERSION":        "9",
			"#EXT-X-TARGETDURATION": "2",
			"#EXT-X-SERVER-CONTROL": "CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=1.500",
			"#EXT-X-PART-INF":       "PART-TARGET=0.500",
			"#EXT-X-MAP":            `URI="init-1000.mp4"`,
		} {
			if got := p.tags[tag]; got != want {
				t.Fatalf("playlist %d: %s:%s, want %s\n%s", i, tag, got, want, data)
			}
		}
		if p.maps != 1 {
			t.Errorf("playlist %d: %d EXT-X-MAP, want 1", i, p.maps)
		}
		for _, sg := range p.segs {
			if sg.pdt == "" {
				t.Errorf("playlist %d: %s without EXT-X-PROGRAM-DATE-TIME", i, sg.uri)
			}
			for _, pt := range sg.parts {
				if pt.dur > 0.5 {
					t.Errorf("playlist %d: part %s lasts %.3f s, over PART-TARGET", i, pt.uri, pt.dur)
				}
			}
		}
		for _, pt := range p.open {
			if pt.dur > 0.5 {
				t.Errorf("playlist %d: part %s lasts %.3f s, over PART-TARGET", i, pt.uri, pt.dur)
			}
		}
		// The hint of the playlist before is a part of this one, unless
		// the stream ended first (this one is Close's: its last segment,
		// then EXT-X-ENDLIST), or this one hints at it too (a segment cut
		// after its last part was listed early).
		closing := p.ended || i == len(st.full)-2
		if prev.hint != "" && !closing && p.hint != prev.hint && !hasPart(p, prev.hint) {
			t.Errorf("playlist %d does not list %s, hinted by the one before\n%s", i, prev.hint, data)
		}
		if !p.ended && p.hint == "" {
			t.Errorf("playlist %d: no EXT-X-PRELOAD-HINT", i)
		}

		// Its delta, applied to the full playlist before it, rebuilds it.
		d := parseLL(t, st.delta[i])
		if d.mediaSeq != p.mediaSeq || d.hint != p.hint || d.ended != p.ended {
			t.Errorf("delta %d: sequence %d hint %q ended %v; full %d %q %v", i, d.mediaSeq, d.hint, d.ended, p.mediaSeq, p.hint, p.ended)
		}
		rebuilt := append([]llSegment(nil), prev.segs[min(max(int(p.mediaSeq-prev.mediaSeq), 0), len(prev.segs)):]...)
		if i == 0 || len(rebuilt) < d.skipped {
			if d.skipped != 0 {
				t.Fatalf("delta %d skips %d segments the player cannot have", i, d.skipped)
			}
			rebuilt = nil
		}
		rebuilt = append(rebuilt[:d.skipped], d.segs...)
		if len(rebuilt) != len(p.segs) {
			t.Fatalf("delta %d rebuilds %d segments, the playlist has %d", i, len(rebuilt), len(p.segs))
		}
		for k := range rebuilt {
			if rebuilt[k].uri != p.segs[k].uri || rebuilt[k].extinf != p.segs[k].extinf {
				t.Errorf("delta %d: segment %d is %s %.3f, full has %s %.3f", i, k, rebuilt[k].uri, rebuilt[k].extinf, p.segs[k].uri, p.segs[k].extinf)
			}
		}
		var kept float64
		for _, sg := range d.segs {
			kept += sg.extinf
		}
		if d.skipped > 0 && kept < 12-2 {
			t.Errorf("delta %d skips %d segments but keeps only %.3f s, within CAN-SKIP-UNTIL", i, d.skipped, kept)
		}
		prev = p
	}
	if !prev.ended || prev.hint != "" || len(prev.open) != 0 {
		t.Errorf("last playlist: ended %v, hint %q, %d unfinished parts", prev.ended, prev.hint, len(prev.open))
	}
	// Parts are listed only near the live edge.
	if sg := prev.segs[0]; len(sg.parts) != 0 {
		t.Errorf("the oldest segment still lists its %d parts", len(sg.parts))
	}
	if sg := prev.segs[len(prev.segs)-1]; len(sg.parts) == 0 {
		t.Error("the newest segment lists no parts")
	}

	// FFmpeg's HLS demuxer reads the fMP4 rendition whole: every packet
	// fed (less the audio before the first picture), DTS increasing.
	count := probePlaylist(t, filepath.Join(dir, "720p", "index.m3u8"))
	if len(count) != 2 || count[0]+count[1] != len(video)+len(audio)-s.DroppedAudio() {
		t.Errorf("ffprobe read %v packets; %d video and %d audio were fed, %d dropped", count, len(video), len(audio), s.DroppedAudio())
	}
}

func hasPart(p llPlaylist, uri string) bool {
	for _, sg := range p.segs {
		for _, pt := range sg.parts {
			if pt.uri == uri {
				return true
			}
		}
	}
	for _, pt := range p.open {
		if pt.uri == uri {
			return true
		}
	}
	return false
}

// TestProgramDateTime: dates follow the segments' durations through the
// arrivals' jitter, and move to the arrival when it drifts past
// pdtTolerance.
func TestProgramDateTime(t *testing.T) {
	base := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	video, _ := encode(t, 10) // real H.264: fMP4 needs its SPS
	p0 := video[0].PTS
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "v", Store: NewMemoryStore(), Type: Live, Video: true, FrameDuration: frameTicks, Format: FMP4,
		TargetDuration: 2 * time.Second, OnSegment: c.add,
		Wallclock: func(pts int64) (time.Time, bool) {
			rel := pts - p0
			at := base.Add(media.Duration(rel))
			switch {
			case rel >= 6*media.ClockRate: // the publisher's clock drifted 1 s
				at = at.Add(time.Second)
			case rel/media.ClockRate%4 == 2: // jitter
				at = at.Add(7 * time.Millisecond)
			}
			return at, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, video, nil, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 2 * time.Second, 4 * time.Second, 7 * time.Second, 9 * time.Second}
	if len(c.infos) != len(want) {
		t.Fatalf("%d segments, want %d", len(c.infos), len(want))
	}
	for i, info := range c.infos {
		if got := info.ProgramDateTime.Sub(base); got != want[i] {
			t.Errorf("segment %d dated %v after the start, want %v", i, got, want[i])
		}
	}
}

// TestFMP4AudioWithoutHoles: audio frames that are not back to back (a
// 16 ms gap, as a publisher's reconnect leaves) come out as one timeline
// without a hole, inside a part and across parts; a gap of seconds stays.
func TestFMP4AudioWithoutHoles(t *testing.T) {
	st := NewMemoryStore()
	var c collect
	s, err := NewSegmenter(SegmenterConfig{Dir: "a", Store: st, Type: Live, Audio: stereo48k, Format: FMP4,
		TargetDuration: 2 * time.Second, PartTarget: 500 * time.Millisecond, OnSegment: c.add})
	if err != nil {
		t.Fatal(err)
	}
	var audio []*media.Packet
	audio = append(audio, synthAudio(0, 1.27)...)
	audio = append(audio, synthAudio(audio[len(audio)-1].PTS+aacTicks+1440, 1.5)...)            // 16 ms late
	audio = append(audio, synthAudio(audio[len(audio)-1].PTS+aacTicks+3*media.ClockRate, 2)...) // 3 s later
	feed(t, s, nil, audio, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var next uint64
	holes := 0
	for _, info := range c.infos {
		data, err := st.Get("a/" + info.Name)
		if err != nil {
			t.Fatal(err)
		}
		var parts fmp4.Parts
		if err := parts.Unmarshal(data); err != nil {
			t.Fatalf("%s: %v", info.Name, err)
		}
		for _, p := range parts {
			tr := p.Tracks[0]
			if next != 0 && tr.BaseTime != next {
				holes++
				if gap := int64(tr.BaseTime) - int64(next); gap < 2*48000 {
					t.Errorf("%s: audio resumes at %d, %d samples after the last ended", info.Name, tr.BaseTime, gap)
				}
			}
			next = tr.BaseTime
			for _, smp := range tr.Samples {
				next += uint64(smp.Duration)
			}
		}
	}
	if holes != 1 {
		t.Errorf("%d gaps in the audio, want the one of 3 s", holes)
	}
}
