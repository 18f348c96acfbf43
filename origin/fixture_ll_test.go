package origin

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/hlsmux"
	"github.com/livestream/livestream/internal/testenv"
)

// The low-latency fixture is a hand-made Low-Latency HLS stream (RFC 8216bis
// with EXT-X-PART, blocking playlist reload and rendition reports) of two
// video-only fMP4 renditions made once by the ffmpeg CLI, played out in real
// time by watchLlStream until the origin writes such playlists itself. Each
// rendition is one fragmented MP4: its ftyp and moov are the init section,
// each moof+mdat fragment a part. 16 fps without B-frames, fragments of 8
// frames and a keyframe every 32 make parts of exactly 0.5 s and segments
// of four parts, each starting on a keyframe on every rendition.
const (
	llFPS           = 16
	llPartFrames    = 8
	llPartsPerSeg   = 4
	llPartDuration  = time.Second * llPartFrames / llFPS
	llSegDuration   = llPartDuration * llPartsPerSeg
	llMediaSeconds  = 60
	llPartHoldBack  = 1.5 // seconds: three parts, what the server will write
	llCodecs        = "avc1.4d401e"
	watchLLFirstSeq = 1732440000000
	llWindowSegs    = 6 // segments a live playlist lists
	llPartedSegs    = 2 // complete segments that still list their parts
	llBlockTimeout  = 3 * llSegDuration
	llMaxPlaylistGo = llWindowSegs + 2
)

type llRendition struct {
	name          string
	width, height int
	init          []byte
	parts         [][]byte // moof+mdat each
}

type llFixture struct{ renditions []llRendition }

var (
	llFixtureOnce sync.Once
	llFixtureData *llFixture
	llFixtureErr  error
)

func loadLLFixture(t testing.TB) *llFixture {
	t.Helper()
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	llFixtureOnce.Do(func() { llFixtureData, llFixtureErr = makeLLFixture(ffmpeg) })
	if llFixtureErr != nil {
		t.Fatalf("make the LL-HLS fixture: %v", llFixtureErr)
	}
	return llFixtureData
}

func makeLLFixture(ffmpeg string) (*llFixture, error) {
	dir, err := os.MkdirTemp("", "origin-ll-fixture-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := &llFixture{renditions: []llRendition{
		{name: "180p", width: 320, height: 180},
		{name: "90p", width: 160, height: 90},
	}}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x180:rate=%d", llFPS),
		"-filter_complex", "[0:v]split=2[v0][big];[big]scale=160:90[v1]"}
	gop := strconv.Itoa(llPartFrames * llPartsPerSeg)
	for i, r := range f.renditions {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-t", strconv.Itoa(llMediaSeconds),
			"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-level:v", "3.0",
			"-pix_fmt", "yuv420p", "-bf", "0", "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
			"-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
			"-frag_duration", strconv.FormatInt(llPartDuration.Microseconds(), 10),
			filepath.Join(dir, r.name+".mp4"))
	}
	if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v\n%s", err, out)
	}
	want := llMediaSeconds * llFPS / llPartFrames
	for i := range f.renditions {
		r := &f.renditions[i]
		data, err := os.ReadFile(filepath.Join(dir, r.name+".mp4"))
		if err != nil {
			return nil, err
		}
		if r.init, r.parts, err = splitFragments(data); err != nil {
			return nil, fmt.Errorf("rendition %s: %w", r.name, err)
		}
		if len(r.parts) != want {
			return nil, fmt.Errorf("rendition %s: ffmpeg cut %d fragments, want %d of %v", r.name, len(r.parts), want, llPartDuration)
		}
	}
	return f, nil
}

// splitFragments splits a fragmented MP4 into its init section (ftyp and
// moov) and its fragments (each moof with the mdat after it), dropping
// anything else (mfra).
func splitFragments(data []byte) (init []byte, frags [][]byte, err error) {
	for off := 0; off < len(data); {
		if len(data)-off < 8 {
			return nil, nil, fmt.Errorf("truncated box at %d", off)
		}
		size := int(binary.BigEndian.Uint32(data[off:]))
		typ := string(data[off+4 : off+8])
		if size == 1 && len(data)-off >= 16 {
			size = int(binary.BigEndian.Uint64(data[off+8:]))
		}
		if size < 8 || off+size > len(data) {
			return nil, nil, fmt.Errorf("bad %q box size %d at %d", typ, size, off)
		}
		box := data[off : off+size]
		switch typ {
		case "ftyp", "moov":
			init = append(init, box...)
		case "moof":
			frags = append(frags, append([]byte(nil), box...))
		case "mdat":
			if len(frags) == 0 {
				return nil, nil, fmt.Errorf("mdat before any moof at %d", off)
			}
			frags[len(frags)-1] = append(frags[len(frags)-1], box...)
		}
		off += size
	}
	return init, frags, nil
}

// watchLlStream plays the fixture out as a live LL-HLS stream under
// /hls/{pid}/: as if the stream had started at start, a part is published
// once the wall clock passes its end, and each frame's
// EXT-X-PROGRAM-DATE-TIME is the wall-clock time it "arrived at ingest"
// (start plus its media time), as the server will stamp it. Playlist
// requests with _HLS_msn (and _HLS_part) block until that part is out.
type watchLlStream struct {
	f     *llFixture
	pid   string
	start time.Time
}

// published is how many parts are out at now.
func (s *watchLlStream) published(now time.Time) int {
	n := int(now.Sub(s.start) / llPartDuration)
	return min(max(n, 0), len(s.f.renditions[0].parts))
}

// route serves the stream's HLS itself and passes everything else on.
func (s *watchLlStream) route(next http.Handler) http.Handler {
	prefix := "/hls/" + s.pid + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		s.serve(w, r, rest)
	})
}

func (s *watchLlStream) serve(w http.ResponseWriter, r *http.Request, rest string) {
	if rest == masterName {
		var vs []hlsmux.Variant
		for _, rd := range s.f.renditions {
			vs = append(vs, hlsmux.Variant{Name: rd.name, URI: rd.name + "/index.m3u8",
				Bandwidth: 300_000 * rd.height / 180, Width: rd.width, Height: rd.height,
				Codecs: llCodecs, FrameRate: llFPS})
		}
		w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
		w.Write(hlsmux.EncodeMaster(vs))
		return
	}
	name, file, _ := strings.Cut(rest, "/")
	ri := -1
	for i, rd := range s.f.renditions {
		if rd.name == name {
			ri = i
		}
	}
	if ri < 0 {
		http.NotFound(w, r)
		return
	}
	rd := s.f.renditions[ri]
	switch {
	case file == "index.m3u8":
		s.servePlaylist(w, r, ri)
	case file == "init.mp4":
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(rd.init)
	case strings.HasSuffix(file, ".m4s"):
		// SEQ.m4s is a segment, SEQ.P.m4s its part P; only what is out.
		seqStr, partStr, isPart := strings.Cut(strings.TrimSuffix(file, ".m4s"), ".")
		seq, err := strconv.ParseInt(seqStr, 10, 64)
		part, perr := strconv.Atoi(partStr)
		seg := int(seq - watchLLFirstSeq)
		n := s.published(time.Now())
		if err != nil || (isPart && (perr != nil || part < 0 || part >= llPartsPerSeg)) || seg < 0 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/mp4")
		if isPart {
			if seg*llPartsPerSeg+part >= n {
				http.NotFound(w, r)
				return
			}
			w.Write(rd.parts[seg*llPartsPerSeg+part])
			return
		}
		if (seg+1)*llPartsPerSeg > n {
			http.NotFound(w, r)
			return
		}
		for _, p := range rd.parts[seg*llPartsPerSeg : (seg+1)*llPartsPerSeg] {
			w.Write(p)
		}
	default:
		http.NotFound(w, r)
	}
}

// servePlaylist answers rendition ri's live playlist, blocking as RFC
// 8216bis 6.2.5.2 says when asked for a part that is not out yet.
func (s *watchLlStream) servePlaylist(w http.ResponseWriter, r *http.Request, ri int) {
	q := r.URL.Query()
	if msnStr := q.Get("_HLS_msn"); msnStr != "" {
		msn, err := strconv.ParseInt(msnStr, 10, 64)
		part := llPartsPerSeg - 1 // without _HLS_part: the whole segment
		if p := q.Get("_HLS_part"); p != "" {
			part, err = strconv.Atoi(p)
		}
		if err != nil || part < 0 {
			http.Error(w, "bad _HLS_msn or _HLS_part", http.StatusBadRequest)
			return
		}
		// _HLS_part may name the part after a segment's last: the next
		// segment's first.
		need := int(msn-watchLLFirstSeq)*llPartsPerSeg + part + 1
		if need > s.published(time.Now())+llMaxPlaylistGo*llPartsPerSeg {
			http.Error(w, "_HLS_msn too far ahead", http.StatusBadRequest)
			return
		}
		deadline := time.NewTimer(llBlockTimeout)
		defer deadline.Stop()
		for s.published(time.Now()) < need {
			wait := time.NewTimer(time.Until(s.start.Add(time.Duration(need) * llPartDuration)))
			select {
			case <-wait.C:
			case <-deadline.C:
				wait.Stop()
				http.Error(w, "the part did not come", http.StatusServiceUnavailable)
				return
			case <-r.Context().Done():
				wait.Stop()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(s.playlist(ri, s.published(time.Now())))
}

// playlist is rendition ri's live playlist once n parts are out.
func (s *watchLlStream) playlist(ri, n int) []byte {
	var b strings.Builder
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	complete := n / llPartsPerSeg
	first := max(complete-llWindowSegs, 0)
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:%d\n", int(llSegDuration.Seconds()))
	fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%g\n", llPartHoldBack)
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", secs(llPartDuration))
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init.mp4\"\n", watchLLFirstSeq+first)
	pdt := s.start.Add(time.Duration(first) * llSegDuration).UTC()
	fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt.Format("2006-01-02T15:04:05.000Z"))
	writeParts := func(seg, count int) {
		for p := range count {
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=\"%d.%d.m4s\"", secs(llPartDuration), watchLLFirstSeq+seg, p)
			if p == 0 {
				b.WriteString(",INDEPENDENT=YES")
			}
			b.WriteByte('\n')
		}
	}
	for seg := first; seg < complete; seg++ {
		if seg >= complete-llPartedSegs {
			writeParts(seg, llPartsPerSeg)
		}
		fmt.Fprintf(&b, "#EXTINF:%s,\n%d.m4s\n", secs(llSegDuration), watchLLFirstSeq+seg)
	}
	writeParts(complete, n%llPartsPerSeg)
	// Every rendition is cut alike: their last part is this one's.
	lastMSN, lastPart := watchLLFirstSeq+int64(complete), n%llPartsPerSeg-1
	if lastPart < 0 {
		lastMSN, lastPart = lastMSN-1, llPartsPerSeg-1
	}
	for i, rd := range s.f.renditions {
		if i != ri {
			fmt.Fprintf(&b, "#EXT-X-RENDITION-REPORT:URI=\"../%s/index.m3u8\",LAST-MSN=%d,LAST-PART=%d\n",
				rd.name, lastMSN, lastPart)
		}
	}
	return []byte(b.String())
}
