package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestream/livestream/registry"
	"github.com/yutopp/go-rtmp/handshake"
)

const (
	// rtmpVersion is plain RTMP's C0.
	rtmpVersion = 3
	// handshakeTimeout bounds the publisher's RTMP handshake with the
	// proxy, and each server's with the proxy.
	handshakeTimeout = 10 * time.Second
	// commandTimeout bounds the wait for the publisher's next message
	// before its publish: encoders send their commands back to back.
	commandTimeout = 30 * time.Second
	// maxReplay bounds the publisher's bytes kept to replay to another
	// server. Its commands up to the publish are about 1 KB; a peer that
	// sends more before publishing is not an encoder, and past this bound
	// it gets no fallback.
	maxReplay = 256 << 10
	// writeTimeout bounds writing a message or a replay to a server, or a
	// server's message to the publisher, before the publish is accepted.
	writeTimeout = 10 * time.Second
	// lingerTimeout bounds the wait for a refused publisher to hang up
	// after reading why.
	lingerTimeout = 2 * time.Second
	// clientBuffer is the read buffer over the publisher's connection.
	clientBuffer = 16 << 10
)

// Status codes of the onStatus messages the proxy reads.
const (
	codePublishStart   = "NetStream.Publish.Start"
	codePublishBadName = "NetStream.Publish.BadName"
	publishCodePrefix  = "NetStream.Publish."
)

// errNoPublish ends a negotiation the publisher never finished: it went
// away, or sent something that is not RTMP.
var errNoPublish = errors.New("publisher left before its publish was accepted")

// attempt is one server a negotiation tried, with the goroutine (pump)
// that reads its messages and writes them to the publisher.
type attempt struct {
	info registry.ServerInfo
	nc   net.Conn
	br   *bufio.Reader
	// events carries the outcome of the publish: accepted, refused or
	// ended; buffered, so that the pump never waits for the controller.
	events chan attemptEvent
	// heard is when the server last sent a message (UnixNano).
	heard atomic.Int64
	// final is set by the pump when it passed on a refusal no other
	// server would change (a wrong key); read once done is closed.
	final bool
	// done is closed when the pump returns; out and err are then final.
	done chan struct{}
	out  int64
	err  error
}

type eventKind int

const (
	evAccepted eventKind = iota // onStatus NetStream.Publish.Start, forwarded
	evRefused                   // an onStatus error, held back in msg
	evEnded                     // the server's connection ended, or broke
)

type attemptEvent struct {
	kind eventKind
	msg  message // the refusal, for evRefused
	cmd  command
	err  error
}

// clientMsg is a message the publisher sent, as read (raw) and as parsed.
type clientMsg struct {
	raw []byte
	cmd command
	ok  bool // cmd was parsed
}

// negotiation takes a publisher from its handshake to an accepted publish
// on some server: it passes the publisher's messages to the current
// server, keeping their bytes to replay, and when that server refuses the
// publish for want of capacity, hangs up or stops answering, it replays
// them to the next server, whose answers the publisher already had are
// left out.
type negotiation struct {
	c       *conn
	client  *bufio.Reader
	out     *clientWriter
	servers []registry.ServerInfo
	next    int

	replay    []byte
	sent      int64            // the publisher's bytes after the handshake, to the publish
	noReplay  bool             // the replay outgrew maxReplay
	answered  map[float64]bool // transactions whose answer the publisher has
	published bool             // the publisher sent its publish
	tried     []string         // why each server was left, for the final error
	clientErr error            // why the client reader stopped, once msgs is closed
	msgs      chan clientMsg   // from readClient, closed after the publish
	readDone  chan struct{}    // closed when readClient has returned
	stop      chan struct{}    // closed when run gives up: readClient returns
	heardCmd  time.Time        // when a command was last passed to the server
}

// clientWriter writes messages to the publisher, one at a time.
type clientWriter struct {
	mu sync.Mutex
	nc net.Conn
	cw *chunkWriter
}

func (w *clientWriter) write(m message, timeout time.Duration) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if timeout > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(timeout))
		defer w.nc.SetWriteDeadline(time.Time{})
	}
	return w.cw.write(m)
}

// handshakeClient does the publisher's RTMP handshake as a server would.
func (c *conn) handshakeClient(br *bufio.Reader) error {
	c.client.SetDeadline(time.Now().Add(handshakeTimeout))
	// go-rtmp does not check C0. Anything but plain RTMP's version (an
	// HTTP request, a TLS hello, RTMPE) is refused before a server is
	// dialled.
	if b, err := br.Peek(1); err != nil {
		return fmt.Errorf("RTMP handshake: %w", err)
	} else if b[0] != rtmpVersion {
		return fmt.Errorf("RTMP handshake: version %d, want %d: not plain RTMP", b[0], rtmpVersion)
	}
	err := handshake.HandshakeWithClient(br, c.client, &handshake.Config{SkipHandshakeVerification: true})
	c.client.SetDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("RTMP handshake: %w", err)
	}
	return nil
}

// readClient reads the publisher's messages until its publish, sending
// each on n.msgs; it closes n.msgs when it stops, leaving in n.client the
// bytes that follow the publish.
func (n *negotiation) readClient() {
	defer close(n.readDone)
	defer close(n.msgs)
	var raw []byte
	cr := newChunkReader(n.client)
	cr.rec = &raw
	for {
		n.c.client.SetReadDeadline(time.Now().Add(commandTimeout))
		m, err := cr.next()
		if err != nil {
			n.clientErr = err
			return
		}
		cmd, ok := parseCommand(m)
		select {
		case n.msgs <- clientMsg{raw: raw, cmd: cmd, ok: ok}:
		case <-n.stop:
			return
		}
		raw = nil
		if ok && cmd.name == "publish" {
			n.c.client.SetReadDeadline(time.Time{})
			return
		}
	}
}

// run negotiates until a server accepted the publish, and returns that
// attempt, whose pump goes on writing the server's messages to the
// publisher. On failure every server connection is closed.
func (n *negotiation) run(ctx context.Context) (*attempt, error) {
	cur, err := n.start(ctx)
	if err != nil {
		return nil, err
	}
	go n.readClient()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	respTimeout := n.c.p.cfg.ResponseTimeout
	msgs := n.msgs
	for {
		var ev attemptEvent
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				if n.published {
					continue // wait for the server's answer
				}
				cur.nc.Close()
				<-cur.done
				<-n.readDone
				return nil, fmt.Errorf("%w: %v", errNoPublish, n.clientErr)
			}
			n.sent += int64(len(m.raw))
			if len(n.replay)+len(m.raw) > maxReplay {
				n.noReplay, n.replay = true, nil
			} else if !n.noReplay {
				n.replay = append(n.replay, m.raw...)
			}
			if m.ok && m.cmd.name == "publish" {
				n.published = true
			}
			if m.ok && m.cmd.tx > 0 {
				n.heardCmd = time.Now()
				timer.Reset(respTimeout)
			}
			if err := writeAll(cur.nc, m.raw); err != nil {
				cur.nc.Close() // the pump reports the end
			}
			continue
		case ev = <-cur.events:
		case <-timer.C:
			if heard := time.Unix(0, cur.heard.Load()); heard.After(n.heardCmd) {
				n.heardCmd = heard
				timer.Reset(time.Until(heard.Add(respTimeout)))
				continue
			}
			ev = attemptEvent{kind: evEnded, err: fmt.Errorf("no answer within %v", respTimeout)}
		case <-ctx.Done():
			ev = attemptEvent{kind: evEnded, err: ctx.Err()}
		}

		if ev.kind == evAccepted {
			if !n.published {
				// Only a broken server accepts a publish never sent.
				ev = attemptEvent{kind: evEnded, err: errors.New("accepted a publish the publisher did not send")}
			} else {
				n.c.p.accepted(n.c)
				<-n.readDone
				return cur, nil
			}
		}
		cur.nc.Close()
		<-cur.done
		why := ev.err
		if ev.kind == evRefused {
			why = fmt.Errorf("refused: %s: %s", ev.cmd.code, ev.cmd.description)
		}
		n.tried = append(n.tried, fmt.Sprintf("server %s: %v", cur.info.ID, why))
		final := cur.final || ev.kind == evRefused && !strings.HasPrefix(ev.cmd.code, publishCodePrefix)
		if !final && !n.noReplay && ctx.Err() == nil && n.next < len(n.servers) {
			n.c.log.Warn("server failed the publisher: trying the next", "server", cur.info.ID, "err", why)
			next, err := n.start(ctx)
			if err == nil {
				cur = next
				if n.published || !n.heardCmd.IsZero() {
					n.heardCmd = time.Now()
					timer.Reset(respTimeout)
				}
				continue
			}
		}
		// No server left: the publisher gets the last refusal, if any.
		if ev.kind == evRefused {
			n.out.write(ev.msg, writeTimeout)
		}
		n.linger()
		if final {
			return nil, fmt.Errorf("%w: %s", errPublishRefused, strings.Join(n.tried, "; "))
		}
		return nil, fmt.Errorf("%w: %s", ErrNoServer, strings.Join(n.tried, "; "))
	}
}

// linger ends a publisher's connection that is refused: it half-closes
// it, so that the refusal written last is read rather than lost to a
// reset, and waits up to lingerTimeout for the publisher to hang up.
func (n *negotiation) linger() {
	halfClose(n.c.client)
	n.c.client.SetReadDeadline(time.Now().Add(lingerTimeout))
	close(n.stop)
	<-n.readDone
	io.Copy(io.Discard, n.client)
	n.c.client.Close()
}

// errPublishRefused ends a negotiation whose publish a server refused for
// a reason no other server would change (a wrong key).
var errPublishRefused = errors.New("publish refused")

// start connects to the next server that answers, replays the publisher's
// messages so far to it, and starts its pump.
func (n *negotiation) start(ctx context.Context) (*attempt, error) {
	cfg := &n.c.p.cfg
	for n.next < len(n.servers) {
		if ctx.Err() != nil {
			break
		}
		s := n.servers[n.next]
		n.next++
		a, err := n.c.dialServer(ctx, s)
		if err == nil && len(n.replay) > 0 {
			if err = writeAll(a.nc, n.replay); err != nil {
				a.nc.Close()
				err = fmt.Errorf("replay: %w", err)
			}
		}
		if err != nil {
			n.c.p.stats.dialFailures.Add(1)
			n.c.log.Warn("dial server", "server", s.ID, "server_addr", s.RTMPAddr, "err", err)
			n.tried = append(n.tried, fmt.Sprintf("server %s: %v", s.ID, err))
			continue
		}
		if !n.c.setServer(a.nc) {
			return nil, ErrServerClosed
		}
		n.c.p.placed(n.c, s.ID)
		swallow := map[float64]bool{}
		for tx := range n.answered {
			swallow[tx] = true
		}
		go n.c.pump(a, n.out, swallow, n.answered)
		return a, nil
	}
	if ctx.Err() != nil {
		n.tried = append(n.tried, fmt.Sprintf("connect within %v: %v", cfg.ConnectTimeout, ctx.Err()))
	}
	if len(n.servers) == 0 {
		return nil, fmt.Errorf("%w: the registry lists no healthy server", ErrNoServer)
	}
	return nil, fmt.Errorf("%w: %s", ErrNoServer, strings.Join(n.tried, "; "))
}

// dialServer connects to s, sends the PROXY header if configured, and does
// the RTMP handshake as a client.
func (c *conn) dialServer(ctx context.Context, s registry.ServerInfo) (*attempt, error) {
	cfg := &c.p.cfg
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", s.RTMPAddr)
	if err != nil {
		return nil, err
	}
	if cfg.ProxyProtocol {
		if err := writeHeader(nc, c.client.RemoteAddr(), c.client.LocalAddr()); err != nil {
			nc.Close()
			return nil, err
		}
	}
	br := bufio.NewReaderSize(nc, 4096)
	nc.SetDeadline(time.Now().Add(min(handshakeTimeout, cfg.DialTimeout*2)))
	if err := handshake.HandshakeWithServer(br, nc, &handshake.Config{}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("RTMP handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return &attempt{info: s, nc: nc, br: br, events: make(chan attemptEvent, 1), done: make(chan struct{})}, nil
}

// pump reads the server's messages and writes them to the publisher until
// the server's connection ends. Until the publish is accepted it leaves
// out the answers to transactions in swallow (the publisher had them from
// an earlier server), notes the answers it passes in answered, and holds
// back a refusal, which it reports instead; then it returns. After the
// publish is accepted, the end of the server's side is passed on as a
// half-close, as the splice does.
func (c *conn) pump(a *attempt, out *clientWriter, swallow, answered map[float64]bool) {
	defer close(a.done)
	cr := newChunkReader(a.br)
	accepted := false
	for {
		m, err := cr.next()
		if err != nil {
			a.err = err
			if !accepted {
				a.events <- attemptEvent{kind: evEnded, err: err}
				return
			}
			if isEOF(err) {
				a.err = nil
				halfClose(c.client)
				c.client.SetReadDeadline(time.Now().Add(c.p.cfg.HalfCloseTimeout))
				return
			}
			c.client.Close()
			a.nc.Close()
			return
		}
		a.heard.Store(time.Now().UnixNano())
		timeout, justAccepted := time.Duration(0), false
		if !accepted {
			timeout = writeTimeout
			if cmd, ok := parseCommand(m); ok {
				switch {
				case (cmd.name == "_result" || cmd.name == "_error") && swallow[cmd.tx]:
					continue
				case cmd.name == "_result" || cmd.name == "_error":
					answered[cmd.tx] = true
				case cmd.name == "onStatus" && cmd.code == codePublishStart:
					accepted, justAccepted = true, true
				case cmd.name == "onStatus" && cmd.level == "error" && (a.final || cmd.code == codePublishBadName):
					// The key is wrong here, so everywhere: the
					// publisher hears it, and no other server is
					// tried.
					a.final = true
				case cmd.name == "onStatus" && cmd.level == "error":
					a.events <- attemptEvent{kind: evRefused, msg: m, cmd: cmd}
					return
				}
			}
		}
		n, err := out.write(m, timeout)
		a.out += int64(n)
		c.p.stats.bytesOut.Add(int64(n))
		if err != nil {
			a.err = err
			if !accepted {
				a.events <- attemptEvent{kind: evEnded, err: fmt.Errorf("write to the publisher: %w", err)}
				return
			}
			c.client.Close()
			a.nc.Close()
			return
		}
		if justAccepted {
			a.events <- attemptEvent{kind: evAccepted}
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// writeAll writes b to nc within writeTimeout.
func writeAll(nc net.Conn, b []byte) error {
	nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := nc.Write(b)
	nc.SetWriteDeadline(time.Time{})
	return err
}
