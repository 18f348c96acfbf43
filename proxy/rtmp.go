package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The proxy reads RTMP's chunk stream in two places, never media:
//
//   - the publisher's messages up to its publish command, which it must
//     be able to replay to another server when the first refuses;
//   - the server's messages to the publisher, which it writes anew with
//     its own chunk writer, so that it can hold back a refusal and, after
//     a fallback, leave out the answers the publisher already has.
//
// After the publish is accepted the publisher's bytes are spliced as they
// come; the server's few messages (acknowledgements, status) keep going
// through the reader and writer below.

// RTMP message type ids the proxy reads.
const (
	msgSetChunkSize = 1
	msgAbort        = 2
	msgCommandAMF3  = 17
	msgCommandAMF0  = 20
)

const (
	// defaultChunkSize is RTMP's chunk size until a Set Chunk Size.
	defaultChunkSize = 128
	// maxChunkSize is the largest Set Chunk Size honoured (RTMP 5.4.1
	// allows 2^31-1; nothing sends more than a message's 3-byte length).
	maxChunkSize = 0xffffff
	// maxMessage bounds a message the proxy reads: commands and protocol
	// control messages are a few hundred bytes. Media is never read.
	maxMessage = 64 << 10
	// maxChunkStreams bounds the chunk streams a peer may open; encoders
	// and servers use a handful.
	maxChunkStreams = 16
	// extendedTimestamp in a timestamp field means a 4-byte one follows.
	extendedTimestamp = 0xffffff
)

// errBadChunk is wrapped by the reader's errors about malformed chunks.
var errBadChunk = errors.New("malformed RTMP chunk stream")

// message is one RTMP message.
type message struct {
	csid      int // chunk stream id it came on, and goes out on
	typeID    byte
	streamID  uint32
	timestamp uint32
	payload   []byte
}

// chunkState is a chunk stream's header state and its message so far.
type chunkState struct {
	timestamp, delta uint32
	extended         bool
	length           int
	typeID           byte
	streamID         uint32
	buf              []byte
	reading          bool // a message is partly read
}

// chunkReader reads whole messages from a chunk stream. With rec set,
// every byte it reads is appended to *rec, so that the caller can forward
// or replay exactly what was read.
type chunkReader struct {
	r         *bufio.Reader
	rec       *[]byte
	chunkSize int
	streams   map[int]*chunkState
	scratch   [11]byte
}

func newChunkReader(r *bufio.Reader) *chunkReader {
	return &chunkReader{r: r, chunkSize: defaultChunkSize, streams: map[int]*chunkState{}}
}

func (cr *chunkReader) read(n int) ([]byte, error) {
	var b []byte
	if n <= len(cr.scratch) {
		b = cr.scratch[:n]
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(cr.r, b); err != nil {
		return nil, err
	}
	if cr.rec != nil {
		*cr.rec = append(*cr.rec, b...)
	}
	return b, nil
}

// next reads chunks until a message is complete, and returns it. Set
// Chunk Size and Abort are applied, and returned like any message.
func (cr *chunkReader) next() (message, error) {
	for {
		b, err := cr.read(1)
		if err != nil {
			return message{}, err
		}
		format, csid := b[0]>>6, int(b[0]&0x3f)
		switch csid {
		case 0:
			if b, err = cr.read(1); err != nil {
				return message{}, err
			}
			csid = 64 + int(b[0])
		case 1:
			if b, err = cr.read(2); err != nil {
				return message{}, err
			}
			csid = 64 + int(b[0]) + int(b[1])<<8
		}
		st := cr.streams[csid]
		if st == nil {
			if format != 0 {
				return message{}, fmt.Errorf("%w: chunk stream %d starts without a full header", errBadChunk, csid)
			}
			if len(cr.streams) >= maxChunkStreams {
				return message{}, fmt.Errorf("%w: more than %d chunk streams", errBadChunk, maxChunkStreams)
			}
			st = &chunkState{}
			cr.streams[csid] = st
		}
		if st.reading && format != 3 {
			return message{}, fmt.Errorf("%w: chunk stream %d: a new header before its message of %d bytes ended", errBadChunk, csid, st.length)
		}
		if err := cr.header(st, format); err != nil {
			return message{}, err
		}
		n := min(cr.chunkSize, st.length-len(st.buf))
		payload, err := cr.read(n)
		if err != nil {
			return message{}, err
		}
		if !st.reading {
			st.buf = make([]byte, 0, st.length)
		}
		st.buf = append(st.buf, payload...)
		st.reading = len(st.buf) < st.length
		if st.reading {
			continue
		}
		m := message{csid: csid, typeID: st.typeID, streamID: st.streamID, timestamp: st.timestamp, payload: st.buf}
		st.buf = nil
		if err := cr.control(m); err != nil {
			return message{}, err
		}
		return m, nil
	}
}

// header reads a chunk's message header of the given format into st.
func (cr *chunkReader) header(st *chunkState, format byte) error {
	sizes := [4]int{11, 7, 3, 0}
	var tsField uint32
	if n := sizes[format]; n > 0 {
		b, err := cr.read(n)
		if err != nil {
			return err
		}
		tsField = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
		if format <= 1 {
			length := int(b[3])<<16 | int(b[4])<<8 | int(b[5])
			if length > maxMessage {
				return fmt.Errorf("%w: a message of %d bytes (at most %d before the publish is accepted)", errBadChunk, length, maxMessage)
			}
			st.length, st.typeID = length, b[6]
		}
		if format == 0 {
			st.streamID = binary.LittleEndian.Uint32(b[7:11])
		}
		st.extended = tsField == extendedTimestamp
	}
	if st.extended {
		// A type 3 chunk repeats its stream's extended timestamp (RTMP
		// 5.3.1.3).
		b, err := cr.read(4)
		if err != nil {
			return err
		}
		if format != 3 {
			tsField = binary.BigEndian.Uint32(b)
		}
	}
	switch {
	case format == 0:
		st.timestamp, st.delta = tsField, 0
	case format <= 2:
		st.delta = tsField
		st.timestamp += tsField
	case !st.reading:
		st.timestamp += st.delta // a new message with the previous delta
	}
	return nil
}

// control applies Set Chunk Size and Abort.
func (cr *chunkReader) control(m message) error {
	switch m.typeID {
	case msgSetChunkSize:
		if len(m.payload) < 4 {
			return fmt.Errorf("%w: Set Chunk Size of %d bytes", errBadChunk, len(m.payload))
		}
		size := int(binary.BigEndian.Uint32(m.payload) & 0x7fffffff)
		if size == 0 {
			return fmt.Errorf("%w: Set Chunk Size 0", errBadChunk)
		}
		cr.chunkSize = min(size, maxChunkSize)
	case msgAbort:
		if len(m.payload) >= 4 {
			if st := cr.streams[int(binary.BigEndian.Uint32(m.payload))]; st != nil {
				st.buf, st.reading = nil, false
			}
		}
	}
	return nil
}

// chunkWriter writes messages as chunks, each message with a full header
// (so that no state of an earlier message, perhaps from another server,
// is relied on).
type chunkWriter struct {
	w         io.Writer
	chunkSize int
	buf       []byte
}

func newChunkWriter(w io.Writer) *chunkWriter {
	return &chunkWriter{w: w, chunkSize: defaultChunkSize}
}

// write sends m in one Write, and adopts the chunk size of a Set Chunk
// Size it sends.
func (cw *chunkWriter) write(m message) (int, error) {
	b := cw.buf[:0]
	basic := func(format byte) {
		switch {
		case m.csid < 64:
			b = append(b, format<<6|byte(m.csid))
		case m.csid < 64+256:
			b = append(b, format<<6, byte(m.csid-64))
		default:
			b = append(b, format<<6|1, byte(m.csid-64), byte((m.csid-64)>>8))
		}
	}
	ts := m.timestamp
	ext := ts >= extendedTimestamp
	tsField := ts
	if ext {
		tsField = extendedTimestamp
	}
	basic(0)
	n := len(m.payload)
	b = append(b, byte(tsField>>16), byte(tsField>>8), byte(tsField), byte(n>>16), byte(n>>8), byte(n), m.typeID)
	b = binary.LittleEndian.AppendUint32(b, m.streamID)
	for off := 0; ; {
		if ext {
			b = binary.BigEndian.AppendUint32(b, ts)
		}
		end := min(off+cw.chunkSize, n)
		b = append(b, m.payload[off:end]...)
		off = end
		if off >= n {
			break
		}
		basic(3)
	}
	cw.buf = b
	written, err := cw.w.Write(b)
	if err == nil && m.typeID == msgSetChunkSize && len(m.payload) >= 4 {
		if size := int(binary.BigEndian.Uint32(m.payload) & 0x7fffffff); size > 0 {
			cw.chunkSize = min(size, maxChunkSize)
		}
	}
	return written, err
}
