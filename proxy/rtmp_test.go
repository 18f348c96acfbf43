package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

// TestChunkRoundTrip writes messages with the chunk writer at several
// chunk sizes, chunk stream ids of each basic header form and extended
// timestamps, and reads them back whole with the chunk reader.
func TestChunkRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var want []message
	var buf bytes.Buffer
	w := newChunkWriter(&buf)
	for i := range 200 {
		m := message{
			csid:      []int{2, 3, 63, 64, 319, 320, 65599}[i%7],
			typeID:    byte(8 + i%3),
			streamID:  uint32(i % 4),
			timestamp: []uint32{0, 40, 0xfffffe, 0xffffff, 0x12345678}[i%5],
			payload:   make([]byte, rng.IntN(3000)),
		}
		for j := range m.payload {
			m.payload[j] = byte(rng.Uint32())
		}
		if i%37 == 0 { // a Set Chunk Size changes both sides' chunking
			m = message{csid: 2, typeID: msgSetChunkSize, payload: binary.BigEndian.AppendUint32(nil, uint32(64+rng.IntN(5000)))}
		}
		if _, err := w.write(m); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	r := newChunkReader(bufio.NewReader(&buf))
	for i, m := range want {
		got, err := r.next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.csid != m.csid || got.typeID != m.typeID || got.streamID != m.streamID || got.timestamp != m.timestamp || !bytes.Equal(got.payload, m.payload) {
			t.Fatalf("message %d: got csid %d type %d stream %d ts %d len %d; want csid %d type %d stream %d ts %d len %d",
				i, got.csid, got.typeID, got.streamID, got.timestamp, len(got.payload), m.csid, m.typeID, m.streamID, m.timestamp, len(m.payload))
		}
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last message: %v, want EOF", err)
	}
}

// TestChunkReaderRecordsWhatItRead: the bytes recorded are the stream's,
// exactly, so that a replay is what the publisher sent.
func TestChunkReaderRecordsWhatItRead(t *testing.T) {
	var buf bytes.Buffer
	w := newChunkWriter(&buf)
	w.write(message{csid: 3, typeID: msgCommandAMF0, payload: connectCommand()})
	w.write(message{csid: 8, typeID: msgCommandAMF0, streamID: 1, payload: publishCommand("sk_x")})
	sent := bytes.Clone(buf.Bytes())
	var rec []byte
	r := newChunkReader(bufio.NewReader(&buf))
	r.rec = &rec
	for range 2 {
		if _, err := r.next(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(rec, sent) {
		t.Errorf("recorded %d bytes, the stream had %d", len(rec), len(sent))
	}
}

func TestChunkReaderRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"continuation of an unknown chunk stream", []byte{0xc3, 1, 2, 3}},
		{"message over the bound", []byte{0x03, 0, 0, 0, 0x01, 0, 0x01, 20, 0, 0, 0, 0}},
		{"Set Chunk Size 0", append([]byte{0x02, 0, 0, 0, 0, 0, 4, msgSetChunkSize, 0, 0, 0, 0}, 0, 0, 0, 0)},
		{"new header mid-message", append(append([]byte{0x03, 0, 0, 0, 0, 1, 0, 20, 0, 0, 0, 0}, make([]byte, 128)...), 0x03, 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 1)},
	} {
		if _, err := newChunkReader(bufio.NewReader(bytes.NewReader(c.b))).next(); !errors.Is(err, errBadChunk) {
			t.Errorf("%s: %v, want a malformed chunk error", c.name, err)
		}
	}
	// More chunk streams than the bound.
	var b []byte
	for i := range maxChunkStreams + 1 {
		b = append(b, byte(3+i), 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 0x05)
	}
	r := newChunkReader(bufio.NewReader(bytes.NewReader(b)))
	var err error
	for err == nil {
		_, err = r.next()
	}
	if !errors.Is(err, errBadChunk) {
		t.Errorf("%d chunk streams: %v, want a malformed chunk error", maxChunkStreams+1, err)
	}
}

func connectCommand() []byte {
	b := appendAMFString(nil, "connect")
	b = appendAMFNumber(b, 1)
	b = append(b, amfObject)
	b = append(b, 0, 3, 'a', 'p', 'p')
	b = appendAMFString(b, "live")
	return append(b, 0, 0, amfObjectEnd)
}

func publishCommand(name string) []byte {
	b := appendAMFString(nil, "publish")
	b = appendAMFNumber(b, 5)
	b = append(b, amfNull)
	b = appendAMFString(b, name)
	return appendAMFString(b, "live")
}

func onStatus(level, code, desc string) []byte {
	b := appendAMFString(nil, "onStatus")
	b = appendAMFNumber(b, 0)
	b = append(b, amfNull, amfObject)
	for _, kv := range [][2]string{{"level", level}, {"code", code}, {"description", desc}} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(kv[0])))
		b = append(b, kv[0]...)
		b = appendAMFString(b, kv[1])
	}
	return append(b, 0, 0, amfObjectEnd)
}

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		name   string
		m      message
		want   command
		wantOK bool
	}{
		{"connect", message{typeID: msgCommandAMF0, payload: connectCommand()}, command{name: "connect", tx: 1}, true},
		{"publish", message{typeID: msgCommandAMF0, payload: publishCommand("sk_x")}, command{name: "publish", tx: 5}, true},
		{"publish, AMF3 message", message{typeID: msgCommandAMF3, payload: append([]byte{0}, publishCommand("k")...)}, command{name: "publish", tx: 5}, true},
		{"onStatus", message{typeID: msgCommandAMF0, payload: onStatus("error", "NetStream.Publish.Failed", "full")},
			command{name: "onStatus", level: "error", code: "NetStream.Publish.Failed", description: "full"}, true},
		{"video", message{typeID: 9, payload: []byte{0x17}}, command{}, false},
		{"truncated name", message{typeID: msgCommandAMF0, payload: []byte{amfString, 0, 9, 'p'}}, command{}, false},
	} {
		got, ok := parseCommand(c.m)
		if got != c.want || ok != c.wantOK {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.wantOK)
		}
	}
}

// FuzzChunkReader: any bytes end in a message or an error, never a panic,
// and never a message longer than the bound.
func FuzzChunkReader(f *testing.F) {
	var buf bytes.Buffer
	w := newChunkWriter(&buf)
	w.write(message{csid: 3, typeID: msgCommandAMF0, payload: connectCommand()})
	w.write(message{csid: 2, typeID: msgSetChunkSize, payload: []byte{0, 0, 0x10, 0}})
	w.write(message{csid: 8, typeID: msgCommandAMF0, streamID: 1, timestamp: 0xffffff, payload: publishCommand("sk_x")})
	f.Add(buf.Bytes())
	f.Add([]byte{0xc3, 1, 2, 3})
	f.Add([]byte{0x43, 0, 0, 0, 0, 0, 4, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newChunkReader(bufio.NewReader(bytes.NewReader(b)))
		var rec []byte
		r.rec = &rec
		for range 1000 {
			m, err := r.next()
			if err != nil {
				return
			}
			if len(m.payload) > maxMessage {
				t.Fatalf("a message of %d bytes", len(m.payload))
			}
			parseCommand(m)
		}
		if len(rec) > len(b) {
			t.Fatalf("recorded %d bytes of %d", len(rec), len(b))
		}
	})
}

// FuzzParseCommand: any command body is read without a panic, and
// without reading past it.
func FuzzParseCommand(f *testing.F) {
	f.Add(connectCommand())
	f.Add(publishCommand("sk_x"))
	f.Add(onStatus("error", "NetStream.Publish.Failed", "full"))
	f.Add([]byte{amfString, 0, 7, 'o', 'n', 'S', 't', 'a', 't', 'u', 's', amfNumber, 0, 0, 0, 0, 0, 0, 0, 0, amfNull, amfStrictArray, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCommand(message{typeID: msgCommandAMF0, payload: b})
		parseCommand(message{typeID: msgCommandAMF3, payload: b})
	})
}

// appendAMFString appends s as an AMF0 string value.
func appendAMFString(b []byte, s string) []byte {
	b = append(b, amfString)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendAMFNumber appends v as an AMF0 number value.
func appendAMFNumber(b []byte, v float64) []byte {
	b = append(b, amfNumber)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
}
