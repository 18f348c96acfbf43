package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// The stream's shape: 2 s segments (the default GOP) of four 0.5 s parts,
// six complete segments in the window, parts listed for the last two and
// the one being written, as Apple's LL-HLS examples do; segment numbers
// start at a publish time in ms.
const (
	playbackID      = "llbench0pid00001"
	firstSeq        = 1764000000000
	partsPerSegment = 4
	partTarget      = 500 * time.Millisecond
	windowSegments  = 6
	partsListedFor  = 2 // complete segments whose parts are still listed
)

// stream is a low-latency stream as an fMP4 segmenter writes it into its
// store: each rendition's parts, segments, full playlist and delta
// update, and the edge advanced after them. The origin never looks inside
// a part, so a part is its size in filler bytes.
type stream struct {
	store      *hlsmux.MemoryStore
	edge       *hlsmux.Edge
	renditions []rendition

	mu  sync.Mutex
	pos map[string]hlsmux.Position
}

// rendition is one rung of the ladder and the size of its parts.
type rendition struct {
	name      string
	partBytes int
	filler    []byte
}

// newStream writes windowSegments complete segments of every rendition,
// then part 0 of the next, so that the playlists look like those of a
// stream live for a while.
func newStream(renditions []rendition) (*stream, error) {
	s := &stream{store: hlsmux.NewMemoryStore(), edge: hlsmux.NewEdge(), renditions: renditions, pos: map[string]hlsmux.Position{}}
	if err := s.store.Put("live.m3u8", []byte("#EXTM3U\n")); err != nil {
		return nil, err
	}
	for i := range s.renditions {
		r := &s.renditions[i]
		r.filler = make([]byte, r.partBytes)
		for j := range r.filler {
			r.filler[j] = byte(j)
		}
		if err := s.store.Put(fmt.Sprintf("%s/init-%d.mp4", r.name, firstSeq), []byte("init")); err != nil {
			return nil, err
		}
		p := hlsmux.Position{MSN: firstSeq}
		for {
			if err := s.write(r, p); err != nil {
				return nil, err
			}
			if p.MSN == firstSeq+windowSegments {
				break
			}
			p = next(p)
		}
	}
	return s, nil
}

// next is the part after p.
func next(p hlsmux.Position) hlsmux.Position {
	if p.Complete {
		return hlsmux.Position{MSN: p.MSN + 1}
	}
	return hlsmux.Position{MSN: p.MSN, Part: p.Part + 1, Complete: p.Part+1 == partsPerSegment-1}
}

func (s *stream) position(name string) hlsmux.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos[name]
}

// advance writes every rendition's next part and playlists and advances
// the edge, one rendition after the other as their segmenters would;
// done is called after each.
func (s *stream) advance(done func(rendition string, p hlsmux.Position)) error {
	for i := range s.renditions {
		r := &s.renditions[i]
		p := next(s.position(r.name))
		if err := s.write(r, p); err != nil {
			return err
		}
		done(r.name, p)
	}
	return nil
}

// Lookup and Edge make s the upstream's origin.Streams and
// origin.EdgeStreams.
func (s *stream) Lookup(pid string) (hlsmux.Store, bool) { return s.store, pid == playbackID }

func (s *stream) Edge(pid string) (*hlsmux.Edge, bool) { return s.edge, pid == playbackID }

func (s *stream) write(r *rendition, p hlsmux.Position) error {
	put := func(name string, data []byte) error { return s.store.Put(r.name+"/"+name, data) }
	if err := put(fmt.Sprintf("%d.%d.m4s", p.MSN, p.Part), r.filler); err != nil {
		return err
	}
	if p.Complete {
		if err := put(fmt.Sprintf("%d.m4s", p.MSN), r.filler); err != nil {
			return err
		}
	}
	if err := put("index.m3u8", playlist(p, false)); err != nil {
		return err
	}
	if err := put("delta.m3u8", playlist(p, true)); err != nil {
		return err
	}
	s.mu.Lock()
	s.pos[r.name] = p
	s.mu.Unlock()
	s.edge.Advance(r.name, p)
	return nil
}

// playlist is a rendition's live playlist at p, or its delta update,
// which skips all but the segments whose parts are listed.
func playlist(p hlsmux.Position, delta bool) []byte {
	lastComplete := p.MSN - 1
	if p.Complete {
		lastComplete = p.MSN
	}
	first := max(int64(firstSeq), lastComplete-windowSegments+1)
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n")
	b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,PART-HOLD-BACK=1.500\n")
	b.WriteString("#EXT-X-PART-INF:PART-TARGET=0.500\n")
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n#EXT-X-MAP:URI=\"init-%d.mp4\"\n", first, firstSeq)
	partsFrom := lastComplete - partsListedFor + 1
	if delta && partsFrom > first {
		fmt.Fprintf(&b, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", partsFrom-first)
		first = partsFrom
	}
	for msn := first; msn <= p.MSN; msn++ {
		if msn >= partsFrom {
			parts := partsPerSegment
			if msn == p.MSN {
				parts = p.Part + 1
			}
			for i := range parts {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=0.500,URI=\"%d.%d.m4s\"", msn, i)
				if i == 0 {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteByte('\n')
			}
		}
		if msn <= lastComplete {
			fmt.Fprintf(&b, "#EXTINF:2.000,\n%d.m4s\n", msn)
		}
	}
	n := next(p)
	fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%d.%d.m4s\"\n", n.MSN, n.Part)
	return []byte(b.String())
}
