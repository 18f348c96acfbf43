package origin

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/livestream/livestream/hlsmux"
)

// The low-latency stream of the tests: what an fMP4 segmenter writes into
// its store (the origin never looks inside a part, so parts hold their own
// names), with its Edge advanced by hand, part by part, as the
// segmenters advance it: after the part and the playlists are in the
// store.
const (
	llFirstSeq        = 1732430000000
	llPartsPerSegment = 4 // a 2 s target of 0.5 s parts
	// llTargetMaxAge is the Cache-Control of a blocking answer on a 2 s
	// target.
	llTargetMaxAge = "public, max-age=2"
)

var llRenditions = []string{"1080p", "720p", "360p"}

type llStream struct {
	t     testing.TB
	store *hlsmux.MemoryStore
	edge  *hlsmux.Edge

	mu  sync.Mutex
	pos map[string]hlsmux.Position
}

// newLLStream starts each rendition of llRenditions with part 0 of
// segment llFirstSeq written and listed.
func newLLStream(t testing.TB) *llStream {
	s := &llStream{t: t, store: hlsmux.NewMemoryStore(), edge: hlsmux.NewEdge(), pos: map[string]hlsmux.Position{}}
	s.put(masterName, []byte("#EXTM3U\n"))
	for _, r := range llRenditions {
		s.put(fmt.Sprintf("%s/init-%d.mp4", r, llFirstSeq), []byte("init of "+r))
		s.write(r, hlsmux.Position{MSN: llFirstSeq}, false)
	}
	return s
}

func (s *llStream) put(name string, data []byte) {
	s.t.Helper()
	if err := s.store.Put(name, data); err != nil {
		s.t.Fatalf("put %s: %v", name, err)
	}
}

// position is rendition's newest part.
func (s *llStream) position(rendition string) hlsmux.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos[rendition]
}

// next is the part after p.
func next(p hlsmux.Position) hlsmux.Position {
	if p.Complete {
		return hlsmux.Position{MSN: p.MSN + 1}
	}
	return hlsmux.Position{MSN: p.MSN, Part: p.Part + 1, Complete: p.Part+1 == llPartsPerSegment-1}
}

// advance writes rendition's next part (and its segment when the part
// completes it) and playlists, then advances the edge; it returns the
// part's position.
func (s *llStream) advance(rendition string) hlsmux.Position {
	p := next(s.position(rendition))
	s.write(rendition, p, false)
	return p
}

// advanceAll advances every rendition by one part.
func (s *llStream) advanceAll() {
	for _, r := range llRenditions {
		s.advance(r)
	}
}

// end writes every playlist with EXT-X-ENDLIST and ends the edge.
func (s *llStream) end() {
	for _, r := range llRenditions {
		s.write(r, s.position(r), true)
	}
	s.edge.EndAll()
}

func (s *llStream) write(rendition string, p hlsmux.Position, ended bool) {
	s.put(partName(rendition, p.MSN, p.Part), []byte(partName(rendition, p.MSN, p.Part)))
	if p.Complete {
		s.put(fmt.Sprintf("%s/%d.m4s", rendition, p.MSN), []byte(fmt.Sprintf("segment %s/%d", rendition, p.MSN)))
	}
	s.put(rendition+"/"+playlistName, llPlaylist(p, false, ended))
	s.put(rendition+"/"+deltaName, llPlaylist(p, true, ended))
	s.mu.Lock()
	s.pos[rendition] = p
	s.mu.Unlock()
	if !ended {
		s.edge.Advance(rendition, p)
	}
}

// partName is the store name of a part.
func partName(rendition string, msn int64, part int) string {
	return fmt.Sprintf("%s/%d.%d.m4s", rendition, msn, part)
}

// llPlaylist is a rendition's playlist at p, as an LL segmenter writes it:
// every part of every segment, each complete segment's EXTINF, a preload
// hint of the next part; as a delta update, all but the last two complete
// segments skipped.
func llPlaylist(p hlsmux.Position, delta, ended bool) []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n")
	b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=1.500\n")
	b.WriteString("#EXT-X-PART-INF:PART-TARGET=0.500\n")
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init-%d.mp4\"\n", llFirstSeq, llFirstSeq)
	lastComplete := p.MSN - 1
	if p.Complete {
		lastComplete = p.MSN
	}
	first := int64(llFirstSeq)
	if delta && lastComplete-first+1 > 2 {
		skipped := lastComplete - 1 - first
		fmt.Fprintf(&b, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", skipped)
		first += skipped
	}
	for msn := first; msn <= p.MSN; msn++ {
		parts := llPartsPerSegment
		if msn == p.MSN {
			parts = p.Part + 1
		}
		for i := range parts {
			fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.500,URI=\"%d.%d.m4s\"", msn, i)
			if i == 0 {
				b.WriteString(",INDEPENDENT=YES")
			}
			b.WriteString("\n")
		}
		if msn <= lastComplete {
			fmt.Fprintf(&b, "#EXTINF:2.000,\n%d.m4s\n", msn)
		}
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	} else {
		n := next(p)
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%d.%d.m4s\"\n", n.MSN, n.Part)
	}
	return []byte(b.String())
}

// edgeTable is a streamTable whose streams may have an edge: the
// EdgeStreams of the tests.
type edgeTable struct {
	*streamTable
	mu    sync.Mutex
	edges map[string]*hlsmux.Edge
}

var _ EdgeStreams = (*edgeTable)(nil)

func newEdgeTable() *edgeTable {
	return &edgeTable{streamTable: newStreamTable(), edges: map[string]*hlsmux.Edge{}}
}

func (e *edgeTable) Edge(pid string) (*hlsmux.Edge, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	edge, ok := e.edges[pid]
	return edge, ok
}

func (e *edgeTable) setEdge(pid string, store hlsmux.Store, edge *hlsmux.Edge) {
	e.set(pid, store)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.edges[pid] = edge
}
