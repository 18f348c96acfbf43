package ingest

import (
	"encoding/binary"
	"fmt"
)

// Limits on what a peer may make go-rtmp hold, and why.
const (
	// handshakeSize is C0 (the version byte), C1 and C2 (1536 bytes each).
	handshakeSize = 1 + 1536 + 1536
	// rtmpVersion is plain RTMP's C0; 6 is RTMPE (encrypted), which go-rtmp
	// does not speak. Any other first byte is not RTMP: an HTTP request, a
	// TLS hello, a port scan.
	rtmpVersion = 3
	// maxChunkStreams bounds the chunk streams a peer may open. go-rtmp
	// keeps a reader (and its buffer) per chunk stream for the life of the
	// connection; encoders use four to six.
	maxChunkStreams = 16
	// preAuthMaxMessage bounds every message before the publish is
	// authorized: commands are a few hundred bytes, and an unauthenticated
	// peer must not make us buffer megabytes.
	preAuthMaxMessage = 64 << 10
	// maxControlMessage bounds commands, metadata and protocol control
	// messages at all times; only audio and video may be larger.
	maxControlMessage = 64 << 10
	// rtmpMaxChunkSize is the largest chunk size go-rtmp uses: it clamps a
	// peer's Set Chunk Size to it (RTMP 5.4.1).
	rtmpMaxChunkSize = 0xffffff
)

// RTMP message type ids the guard reads.
const (
	msgSetChunkSize = 1
	msgAudio        = 8
	msgVideo        = 9
	msgDataAMF0     = 18
	msgCommandAMF0  = 20
)

// chunkGuard follows the bytes a peer sends the way go-rtmp v0.0.7's chunk
// reader will read them, and fails before go-rtmp buffers or decodes what
// would hurt the process. go-rtmp never checks its MaxMessageSize, lets a
// peer open any number of chunk streams, panics on a chunk that continues a
// message it has not seen, and decodes AMF with go-amf0, which allocates a
// strict array's declared length and recurses without limit.
//
// It mirrors go-rtmp's reading exactly (including that a type 3 chunk never
// carries an extended timestamp) so that both see the same message
// boundaries. The guard sees bytes when they arrive from the socket, before
// go-rtmp reads them through its buffer, so it fails first.
type chunkGuard struct {
	// maxMessage is the current bound on a message's length:
	// preAuthMaxMessage until authorize raises it.
	maxMessage int

	handshakeLeft int
	chunkSize     int
	streams       map[int]*guardStream
	buffered      int // bytes of incomplete messages, over all chunk streams

	hdr         []byte // the current chunk's header, as it arrives
	cur         *guardStream
	payloadLeft int

	messages int // complete messages seen, for tests
}

// guardStream is a chunk stream's message state, as go-rtmp keeps it.
type guardStream struct {
	length    int
	typeID    byte
	buffered  int
	completed bool
	// body collects a message the guard must read whole: Set Chunk Size,
	// and AMF0 commands and data to check before go-amf0 decodes them.
	body    []byte
	collect bool
}

func newChunkGuard() *chunkGuard {
	return &chunkGuard{
		maxMessage:    preAuthMaxMessage,
		handshakeLeft: handshakeSize,
		chunkSize:     128, // RTMP's initial chunk size
		streams:       map[int]*guardStream{},
		hdr:           make([]byte, 0, 18),
	}
}

// authorize raises the message limit once a publish is accepted.
func (g *chunkGuard) authorize(maxMessage int) { g.maxMessage = maxMessage }

// feed checks the next bytes from the peer. An error wraps ErrProtocol; the
// connection must be closed, and go-rtmp must not see the bytes.
func (g *chunkGuard) feed(p []byte) error {
	for len(p) > 0 {
		switch {
		case g.handshakeLeft > 0:
			if g.handshakeLeft == handshakeSize && p[0] != rtmpVersion {
				return fmt.Errorf("first byte %#02x is not RTMP version 3: %w", p[0], ErrProtocol)
			}
			n := min(len(p), g.handshakeLeft)
			g.handshakeLeft -= n
			p = p[n:]
		case g.payloadLeft > 0:
			n := min(len(p), g.payloadLeft)
			cs := g.cur
			if cs.collect {
				cs.body = append(cs.body, p[:n]...)
			}
			cs.buffered += n
			g.buffered += n
			g.payloadLeft -= n
			p = p[n:]
			if g.payloadLeft == 0 {
				if err := g.endChunk(); err != nil {
					return err
				}
			}
		default:
			g.hdr = append(g.hdr, p[0])
			p = p[1:]
			if g.headerComplete() {
				if err := g.startChunk(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// messageHeaderSize is the message header's size by chunk format.
var messageHeaderSize = [4]int{11, 7, 3, 0}

// headerComplete reports whether g.hdr holds a whole chunk header: basic
// header, message header and, when its timestamp field is 0xffffff and the
// format is 0, 1 or 2, the extended timestamp.
func (g *chunkGuard) headerComplete() bool {
	h := g.hdr
	basic := 1
	switch h[0] & 0x3f {
	case 0:
		basic = 2
	case 1:
		basic = 3
	}
	format := h[0] >> 6
	n := basic + messageHeaderSize[format]
	if len(h) < n {
		return false
	}
	if format < 3 && h[basic] == 0xff && h[basic+1] == 0xff && h[basic+2] == 0xff {
		n += 4
	}
	return len(h) >= n
}

// startChunk reads the complete header in g.hdr and sets up its payload.
func (g *chunkGuard) startChunk() error {
	h := g.hdr
	g.hdr = g.hdr[:0]
	format := h[0] >> 6
	csid := int(h[0] & 0x3f)
	basic := 1
	switch csid {
	case 0:
		csid, basic = int(h[1])+64, 2
	case 1:
		csid, basic = int(h[2])*256+int(h[1])+64, 3
	}
	cs := g.streams[csid]
	if cs == nil {
		if len(g.streams) >= maxChunkStreams {
			return fmt.Errorf("more than %d chunk streams: %w", maxChunkStreams, ErrProtocol)
		}
		cs = &guardStream{}
		g.streams[csid] = cs
	}
	buffered, length, typeID := cs.buffered, cs.length, cs.typeID
	if cs.completed {
		buffered = 0
	}
	if format <= 1 {
		mh := h[basic:]
		length, typeID = int(mh[3])<<16|int(mh[4])<<8|int(mh[5]), mh[6]
		if buffered > 0 && typeID != cs.typeID {
			return fmt.Errorf("chunk stream %d changes message type %d to %d mid-message: %w", csid, cs.typeID, typeID, ErrProtocol)
		}
		if limit := g.limit(typeID); length > limit {
			return fmt.Errorf("message of %d bytes (type %d) over the limit of %d: %w", length, typeID, limit, ErrProtocol)
		}
	}
	expect := length - buffered
	if expect <= 0 { // go-rtmp panics here ("invalid state")
		return fmt.Errorf("chunk on stream %d continues no message: %w", csid, ErrProtocol)
	}
	n := min(expect, g.chunkSize)
	if g.buffered+n > 2*g.maxMessage+maxControlMessage {
		return fmt.Errorf("%d bytes of unfinished messages: %w", g.buffered+n, ErrProtocol)
	}
	if cs.completed {
		cs.completed, cs.body = false, cs.body[:0]
	}
	cs.buffered, cs.length, cs.typeID = buffered, length, typeID
	if cs.buffered == 0 {
		cs.collect = cs.typeID == msgSetChunkSize || cs.typeID == msgDataAMF0 || cs.typeID == msgCommandAMF0
	}
	g.cur, g.payloadLeft = cs, n
	return nil
}

// limit is the largest message of type typeID the peer may send now.
func (g *chunkGuard) limit(typeID byte) int {
	if typeID == msgAudio || typeID == msgVideo {
		return g.maxMessage
	}
	return min(g.maxMessage, maxControlMessage)
}

// endChunk runs when a chunk's payload has arrived; a message that is
// complete is checked as go-rtmp is about to handle it.
func (g *chunkGuard) endChunk() error {
	cs := g.cur
	g.cur = nil
	if cs.buffered < cs.length {
		return nil
	}
	cs.completed = true
	g.buffered -= cs.length
	g.messages++
	switch cs.typeID {
	case msgSetChunkSize:
		if len(cs.body) < 4 {
			return fmt.Errorf("set chunk size of %d bytes: %w", len(cs.body), ErrProtocol)
		}
		size := binary.BigEndian.Uint32(cs.body)
		if size == 0 || size&0x80000000 != 0 {
			return fmt.Errorf("set chunk size %d: %w", size, ErrProtocol)
		}
		g.chunkSize = int(min(size, rtmpMaxChunkSize))
	case msgDataAMF0, msgCommandAMF0:
		if err := checkAMF0(cs.body); err != nil {
			return fmt.Errorf("message type %d: %v: %w", cs.typeID, err, ErrProtocol)
		}
	}
	return nil
}
