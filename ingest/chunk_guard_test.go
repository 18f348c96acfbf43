package ingest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yutopp/go-amf0"
	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// clientHandshake is what a client sends before its first chunk: C0, C1
// and C2.
var clientHandshake = append([]byte{rtmpVersion}, make([]byte, handshakeSize-1)...)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// goRTMPChunks returns the chunks go-rtmp's own writer makes of msgs, as
// the guard will see them from a peer: a Set Chunk Size to 4096 first, then
// each message on its chunk stream at its timestamp.
func goRTMPChunks(t *testing.T, msgs []chunkMsg) []byte {
	t.Helper()
	var out lockedBuffer
	cs := rtmp.NewChunkStreamer(bytes.NewReader(nil), &out, nil)
	defer cs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	write := func(csid int, ts uint32, streamID uint32, m message.Message) {
		if err := cs.Write(ctx, csid, ts, &rtmp.ChunkMessage{StreamID: streamID, Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	// Waiting for a chunk stream's writer takes it: done with that stream.
	wait := func(csid int) {
		if _, err := cs.NewChunkWriter(ctx, csid); err != nil {
			t.Fatal(err)
		}
	}
	write(2, 0, 0, &message.SetChunkSize{ChunkSize: 4096})
	wait(2)
	if err := cs.SelfState().SetChunkSize(4096); err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, m := range msgs {
		write(m.csid, m.ts, 1, m.msg)
		used[m.csid] = true
	}
	for csid := range used {
		wait(csid)
	}
	return out.Bytes()
}

type chunkMsg struct {
	csid int
	ts   uint32
	msg  message.Message
}

func command(t *testing.T, name string, args ...any) *message.CommandMessage {
	var b bytes.Buffer
	enc := amf0.NewEncoder(&b)
	for _, a := range args {
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
	}
	return &message.CommandMessage{CommandName: name, TransactionID: 5, Encoding: message.EncodingTypeAMF0, Body: &b}
}

// TestChunkGuardFollowsGoRTMP checks that the guard finds the message
// boundaries go-rtmp's chunk format puts there: messages larger than the
// chunk size, on interleaved chunk streams, with extended timestamps,
// with a timestamp going back, whatever the reads' sizes.
func TestChunkGuardFollowsGoRTMP(t *testing.T) {
	video := func(n int) *message.VideoMessage {
		return &message.VideoMessage{Payload: bytes.NewReader(bytes.Repeat([]byte{0x27}, n))}
	}
	audio := &message.AudioMessage{Payload: bytes.NewReader([]byte{0xaf, 1, 2, 3})}
	msgs := []chunkMsg{
		{3, 0, command(t, "publish", nil, "key", "live")},
		{6, 0, video(10)},
		{4, 0, audio},
		{6, 33, video(5000)},
		{6, 66, video(300000)},
		{6, 0xfffff0, video(9000)}, // the extended timestamp begins
		{4, 0x1000000, &message.AudioMessage{Payload: bytes.NewReader(make([]byte, 5000))}},
		{6, 0x1000010, video(8193)},
		{6, 0x2000000, video(100)},
		{6, 0x1800000, video(9000)}, // back in time, past 0xffffff: type 0 with an extended timestamp
		{6, 0x20, video(100)},       // back in time: a type 0 header
		{3, 0x21, command(t, "deleteStream", nil, 1.0)},
	}
	stream := append(bytes.Clone(clientHandshake), goRTMPChunks(t, msgs)...)
	for _, split := range []int{1, 7, 128, 4096, len(stream)} {
		g := newChunkGuard()
		g.authorize(1 << 20)
		for b := stream; len(b) > 0; {
			n := min(len(b), split)
			if err := g.feed(b[:n]); err != nil {
				t.Fatalf("reads of %d bytes: %v", split, err)
			}
			b = b[n:]
		}
		if g.messages != len(msgs)+1 || g.buffered != 0 || g.chunkSize != 4096 {
			t.Errorf("reads of %d bytes: %d messages, %d bytes unfinished, chunk size %d; want %d, 0, 4096",
				split, g.messages, g.buffered, g.chunkSize, len(msgs)+1)
		}
	}
}

// chunk makes a chunk with a type 0 header on csid (2 to 63), for message
// stream 0.
func chunk(csid int, typeID byte, length int, payload []byte) []byte {
	b := []byte{byte(csid), 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typeID, 0, 0, 0, 0}
	return append(b, payload...)
}

func amfCommand(values ...[]byte) []byte {
	body := []byte{amfString, 0, 7}
	body = append(body, "connect"...)
	body = append(body, amfNumber, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)
	for _, v := range values {
		body = append(body, v...)
	}
	return body
}

func TestChunkGuardRefuses(t *testing.T) {
	deep := bytes.Repeat([]byte{amfStrictArray, 0, 0, 0, 1}, maxAMFDepth+2)
	huge := []byte{amfStrictArray, 0x7f, 0xff, 0xff, 0xff, amfNull}
	manyStreams := []byte{}
	for csid := 2; csid < 2+maxChunkStreams+1; csid++ {
		manyStreams = append(manyStreams, chunk(csid, msgAudio, 2, []byte{0xaf, 1})...)
	}
	for _, c := range []struct {
		name       string
		raw        []byte // the whole stream, handshake included
		chunks     []byte // or the chunks after a handshake
		authorized bool
		want       string
	}{
		{name: "HTTP", raw: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), want: "not RTMP"},
		{name: "TLS hello", raw: []byte{0x16, 3, 1, 2, 0}, want: "not RTMP"},
		{name: "video before the publish is authorized", chunks: chunk(6, msgVideo, preAuthMaxMessage+1, nil), want: "over the limit"},
		{name: "video over MaxMessageSize", authorized: true, chunks: chunk(6, msgVideo, 4<<20+1, nil), want: "over the limit"},
		{name: "command over 64 KiB", authorized: true, chunks: chunk(3, msgCommandAMF0, maxControlMessage+1, nil), want: "over the limit"},
		{name: "a chunk that continues no message", chunks: []byte{0xc6, 1, 2, 3}, want: "continues no message"},
		{name: "a message of no bytes", chunks: chunk(6, msgAudio, 0, nil), want: "continues no message"},
		{name: "set chunk size 0", chunks: chunk(2, msgSetChunkSize, 4, []byte{0, 0, 0, 0}), want: "set chunk size"},
		{name: "set chunk size with the top bit", chunks: chunk(2, msgSetChunkSize, 4, []byte{0x80, 0, 0, 1}), want: "set chunk size"},
		{name: "too many chunk streams", chunks: manyStreams, want: "chunk streams"},
		{name: "AMF nested too deep", chunks: chunk(3, msgCommandAMF0, len(amfCommand(deep)), amfCommand(deep)), want: "nested"},
		{name: "AMF strict array longer than the message", chunks: chunk(3, msgCommandAMF0, len(amfCommand(huge)), amfCommand(huge)), want: "strict array"},
		{name: "message type changed mid-message", chunks: append(chunk(6, msgVideo, 200, make([]byte, 128)), chunk(6, msgCommandAMF0, 200, nil)...), want: "mid-message"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newChunkGuard()
			if c.authorized {
				g.authorize(4 << 20)
			}
			in := c.raw
			if in == nil {
				in = append(bytes.Clone(clientHandshake), c.chunks...)
			}
			err := g.feed(in)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("feed: %v, want ErrProtocol saying %q", err, c.want)
			}
		})
	}
}

func TestChunkGuardAccepts(t *testing.T) {
	g := newChunkGuard()
	cmd := amfCommand([]byte{amfNull}, []byte{amfString, 0, 3, 'k', 'e', 'y'})
	in := append(bytes.Clone(clientHandshake), chunk(3, msgCommandAMF0, len(cmd), cmd)...)
	in = append(in, chunk(2, msgSetChunkSize, 4, []byte{0x7f, 0xff, 0xff, 0xff})...) // clamped, as go-rtmp does
	if err := g.feed(in); err != nil {
		t.Fatal(err)
	}
	if g.messages != 2 || g.chunkSize != rtmpMaxChunkSize {
		t.Errorf("%d messages, chunk size %d", g.messages, g.chunkSize)
	}
}

// FuzzChunkGuard feeds arbitrary chunks, in reads of arbitrary sizes. The
// guard must not panic, must decide the same whatever the reads, and must
// keep its bounds.
func FuzzChunkGuard(f *testing.F) {
	f.Add(chunk(3, msgCommandAMF0, 20, amfCommand()), uint64(1))
	f.Add(append(chunk(2, msgSetChunkSize, 4, []byte{0, 0, 0, 16}), chunk(6, msgVideo, 40, make([]byte, 40))...), uint64(3))
	f.Add(chunk(6, msgVideo, 300, make([]byte, 128)), uint64(7))
	f.Add([]byte{0x46, 0, 0, 1, 0, 0, 4, 9, 0x86, 1, 2, 3, 4, 0xc6}, uint64(5))
	f.Fuzz(func(t *testing.T, chunks []byte, seed uint64) {
		in := append(bytes.Clone(clientHandshake), chunks...)
		whole := newChunkGuard()
		want := whole.feed(in)

		g := newChunkGuard()
		r := rand.New(rand.NewPCG(seed, 0))
		var err error
		for b := in; len(b) > 0 && err == nil; {
			n := 1 + r.IntN(min(len(b), 300))
			err = g.feed(b[:n])
			b = b[n:]
			if g.buffered < 0 || g.buffered > 2*g.maxMessage+maxControlMessage || len(g.streams) > maxChunkStreams {
				t.Fatalf("bounds: %d bytes unfinished, %d chunk streams", g.buffered, len(g.streams))
			}
			for _, s := range g.streams {
				if len(s.body) > maxControlMessage || s.buffered > s.length {
					t.Fatalf("chunk stream holds %d bytes of a %d-byte message, %d collected", s.buffered, s.length, len(s.body))
				}
			}
		}
		if (err == nil) != (want == nil) || g.messages != whole.messages {
			t.Fatalf("split reads: %v, %d messages; one read: %v, %d messages", err, g.messages, want, whole.messages)
		}
	})
}
