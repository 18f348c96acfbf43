package ingest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// sniffer relays one TCP connection to addr and keeps what the server
// sent: go-rtmp's client cannot decode an onStatus on stream 0.
type sniffer struct {
	addr string
	mu   sync.Mutex
	got  bytes.Buffer
}

func (s *sniffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.Write(p)
}

func (s *sniffer) saw(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.got.Bytes(), b)
}

func sniff(t *testing.T, target string) *sniffer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sniffer{addr: l.Addr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer up.Close()
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() })
		io.Copy(io.MultiWriter(c, s), up)
		c.(*net.TCPConn).CloseWrite()
		wg.Wait()
	}()
	return s
}

// TestReconnectRequest: a Sink that wants its publisher elsewhere (the
// server drains) gets Enhanced RTMP's reconnect request sent to the client
// before its connection closes.
func TestReconnectRequest(t *testing.T) {
	h := newHarness(t, nil)
	s := sniff(t, h.addr)
	c := dialPublish(t, s.addr, keyAlpha)
	sink := h.sink()
	sink.mu.Lock()
	sink.reconnect = true
	sink.mu.Unlock()
	if err := c.video(t, 0, avcSeq(testAVCC)); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	sink.stop()
	// The publisher goes on sending, as one does: the request goes out
	// with the next message.
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		if err := c.video(t, uint32(33*i), avcFrame(i%30 == 0, 0, testSlice)); err != nil {
			break
		}
		select {
		case <-sink.ended:
		case <-tick.C:
			continue
		}
		break
	}
	if err := sink.wait(t); !errors.Is(err, ErrSinkDone) {
		t.Errorf("End(%v), want ErrSinkDone", err)
	}
	if d := time.Since(asked); d > reconnectGrace+2*time.Second {
		t.Errorf("the connection closed %v after the request, want within %v", d, reconnectGrace)
	}
	c.cc.Close()
	if !s.saw([]byte("\x02\x00\x08onStatus")) || !s.saw([]byte("NetConnection.Connect.ReconnectRequest")) {
		t.Error("no reconnect request reached the client")
	}
}
