package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/livestream/livestream/door"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// Bounds on go-rtmp's per-connection state that it leaves unlimited.
const (
	// maxMessageStreams bounds createStream: go-rtmp allocates a stream
	// for each and searches them linearly. Publishers create one.
	maxMessageStreams = 8
	// rtmpReadBuffer is go-rtmp's read buffer: fewer, larger reads (each
	// sets a deadline) than its 4 KiB default.
	rtmpReadBuffer = 32 << 10
	// statusChunkStream is the chunk stream our own onStatus messages go
	// out on (any above 2, the protocol control stream, will do).
	statusChunkStream = 5
	// outChunkSize is the chunk size we send with (RTMP starts at 128, as
	// nginx-rtmp we raise it at connect): a status message must go out in
	// one chunk, or go-rtmp's own shorter "Publish failed." overtakes it.
	outChunkSize = 4096
	// maxStatusDescription bounds what we put in a status message, so
	// that it fits in one chunk.
	maxStatusDescription = 1024
	// startGrace is how long past StartTimeout the start timer waits
	// before ending a publish that never started: a tag arriving in that
	// time starts it with what there is instead.
	startGrace = time.Second
)

// errUnpublished ends the connection of a publisher that deleted its
// stream: the clean end, which Sink.End gets as nil.
var errUnpublished = errors.New("publisher unpublished")

// conn is one RTMP connection: go-rtmp's Handler for it, and its life.
// go-rtmp calls the handler methods from the connection's goroutine, one at
// a time; fail, stop and closeReason may be called from any goroutine.
type conn struct {
	rtmp.DefaultHandler
	srv    *Server
	nc     net.Conn
	rw     *rwConn
	log    *slog.Logger
	remote string
	addr   netip.Addr
	slot   netip.Prefix // the address counted against MaxConnsPerAddr, if any
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when go-rtmp has closed the connection

	mu          sync.Mutex
	reason      error
	unpublished bool
	secrets     secrets

	// wantReconnect: the Sink asked for its publisher to publish again
	// (askReconnect); the connection goroutine sends the request.
	wantReconnect atomic.Bool

	// The connection goroutine's.
	rc            *rtmp.Conn
	reconnectSent bool
	pub           *publish
	streamID      uint32
	scratch       []byte
	startTimer    *time.Timer
	watch         sync.WaitGroup // the Sink.Done watcher
	publishedAt   time.Time
}

func newConn(s *Server, nc net.Conn, now time.Time) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:    s,
		nc:     nc,
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	c.setRemote(nc.RemoteAddr())
	c.rw = &rwConn{
		Conn:      nc,
		c:         c,
		idle:      s.cfg.IdleTimeout,
		publishBy: now.Add(s.cfg.HandshakeTimeout),
		handshake: s.cfg.HandshakeTimeout,
		guard:     newChunkGuard(),
	}
	return c
}

// setRemote records a as the publisher's address: in logs, for the
// auth-failure limit and in PublishInfo. It is the socket's, or a PROXY
// protocol header's; it is set before go-rtmp starts.
func (c *conn) setRemote(a net.Addr) {
	c.remote = a.String()
	c.addr = netip.Addr{}
	if ap, err := netip.ParseAddrPort(c.remote); err == nil {
		c.addr = ap.Addr()
	}
	c.log = c.srv.cfg.Logger.With("remote", c.remote)
}

// rtmpConfig is go-rtmp's configuration of the connection.
func (c *conn) rtmpConfig() *rtmp.ConnConfig {
	return &rtmp.ConnConfig{
		Handler: c,
		ControlState: rtmp.StreamControlStateConfig{
			// The chunk guard enforces these first, with our errors; they
			// are set so that go-rtmp agrees.
			MaxChunkStreams:   2 * maxChunkStreams, // readers and our writers
			MaxMessageSize:    uint32(c.srv.cfg.MaxMessageSize),
			MaxMessageStreams: maxMessageStreams,
		},
		ReaderBufferSize: rtmpReadBuffer,
		Logger:           newLibLogger(c.log, c.redact, c.knowsWhy),
	}
}

// fail records why the connection ends, if nothing did before, and
// returns err.
func (c *conn) fail(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		c.reason = err
	}
	return err
}

// stop ends the connection from outside go-rtmp's goroutine: closing the
// socket makes its read fail, and it then closes everything.
func (c *conn) stop(reason error) {
	c.fail(reason)
	c.cancel()
	c.nc.Close()
}

// closeReason is what Sink.End gets: nil for a clean end (the publisher
// unpublished), ErrDisconnected for a connection closed without it.
func (c *conn) closeReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unpublished || errors.Is(c.reason, errUnpublished) {
		return nil
	}
	if c.reason == nil {
		return ErrDisconnected
	}
	return c.reason
}

// knowsWhy reports whether the connection has recorded why it ends.
func (c *conn) knowsWhy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason != nil
}

func (c *conn) redact(s string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.secrets.redact(s)
}

func (c *conn) addSecret(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets.add(name)
}

// closed runs when go-rtmp has closed the connection: Shutdown stops
// waiting for it.
func (c *conn) closed() {
	c.srv.untrack(c)
	close(c.done)
}

// catch turns a panic in a handler method into the connection's end, with
// its stack logged once: a bug in one connection must not end the others.
func (c *conn) catch(err *error) {
	r := recover()
	if r == nil {
		return
	}
	perr := fmt.Errorf("panic: %s", c.redact(fmt.Sprint(r)))
	c.log.Error("panic in RTMP connection", "err", perr, "stack", string(debug.Stack()))
	c.fail(perr)
	if err != nil {
		*err = perr
	}
}

func (c *conn) OnServe(rc *rtmp.Conn) { c.rc = rc }

func (c *conn) OnConnect(_ uint32, cmd *message.NetConnectionConnect) (err error) {
	defer c.catch(&err)
	app, _, _ := strings.Cut(cmd.Command.App, "?")
	if strings.TrimSuffix(app, "/") != c.srv.cfg.App {
		// The app is not logged: a publisher who typed
		// rtmp://HOST/STREAM_KEY would have its key there.
		c.log.Warn("refused connect: wrong app", "want_app", c.srv.cfg.App)
		c.srv.counters.wrongApp.Add(1)
		return c.fail(fmt.Errorf("connect to an app other than %q: %w", c.srv.cfg.App, ErrUnauthorized))
	}
	return c.raiseChunkSize()
}

// raiseChunkSize makes our chunks outChunkSize long. go-rtmp has written
// nothing yet (the connect reply follows), so its writer goroutine is idle:
// the new size and the Set Chunk Size message reach it, in order, through
// its queue.
func (c *conn) raiseChunkSize() error {
	if err := c.rc.GetChunkStreamer().SelfState().SetChunkSize(outChunkSize); err != nil {
		return c.fail(fmt.Errorf("set chunk size: %w", err))
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.IdleTimeout)
	defer cancel()
	msg := &rtmp.ChunkMessage{Message: &message.SetChunkSize{ChunkSize: outChunkSize}}
	if err := c.rc.Write(ctx, 2, 0, msg); err != nil {
		return c.fail(fmt.Errorf("send set chunk size: %w", err))
	}
	return nil
}

func (c *conn) OnReleaseStream(_ uint32, cmd *message.NetConnectionReleaseStream) error {
	c.addSecret(cmd.StreamName)
	return nil
}

func (c *conn) OnFCPublish(_ uint32, cmd *message.NetStreamFCPublish) error {
	c.addSecret(cmd.StreamName)
	return nil
}

// OnFCUnpublish says the publisher is stopping (FFmpeg, OBS and
// GStreamer send it before deleteStream): the end that follows is clean,
// even if the connection closes before deleteStream is read.
func (c *conn) OnFCUnpublish(_ uint32, cmd *message.NetStreamFCUnpublish) error {
	c.addSecret(cmd.StreamName)
	if c.pub != nil {
		c.mu.Lock()
		c.unpublished = true
		c.mu.Unlock()
	}
	return nil
}

// OnDeleteStream of the publishing stream is a publisher's clean end
// (FFmpeg and OBS send it before closing): the connection closes.
// GStreamer's names no stream ID (decodeDeleteStream reads 0), which is
// never one of ours: that is the publishing stream too.
func (c *conn) OnDeleteStream(_ uint32, cmd *message.NetStreamDeleteStream) error {
	if c.pub != nil && (cmd.StreamID == c.streamID || cmd.StreamID == 0) {
		return c.unpublish()
	}
	return nil
}

// OnUnknownCommandMessage gets the commands go-rtmp passes through: on the
// publishing stream itself, a publisher's goodbye (closeStream, or
// FCUnpublish and deleteStream, which some clients send there rather than
// on the connection's stream 0) is a clean end.
func (c *conn) OnUnknownCommandMessage(_ uint32, cmd *message.CommandMessage) error {
	switch cmd.CommandName {
	case "closeStream", "FCUnpublish", "deleteStream":
		if c.pub != nil {
			return c.unpublish()
		}
	}
	return nil
}

func (c *conn) unpublish() error {
	c.mu.Lock()
	c.unpublished = true
	c.mu.Unlock()
	return c.fail(errUnpublished)
}

func (c *conn) OnPlay(*rtmp.StreamContext, uint32, *message.NetStreamPlay) error {
	c.log.Info("refused play: this server only takes publishers")
	return c.fail(errors.New("play is not supported"))
}

func (c *conn) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) (err error) {
	defer c.catch(&err)
	if c.pub == nil {
		return nil
	}
	return c.media(c.pub.scriptTag(data.Payload))
}

func (c *conn) OnAudio(ts uint32, payload io.Reader) (err error) {
	defer c.catch(&err)
	body, err := c.read(payload)
	if err != nil || c.pub == nil {
		return err
	}
	c.sendReconnectRequest()
	return c.media(c.pub.audioTag(ts, body))
}

func (c *conn) OnVideo(ts uint32, payload io.Reader) (err error) {
	defer c.catch(&err)
	body, err := c.read(payload)
	if err != nil || c.pub == nil {
		return err
	}
	c.sendReconnectRequest()
	return c.media(c.pub.videoTag(ts, body))
}

// read drains a message's payload into the connection's scratch buffer:
// go-rtmp reuses its own once the handler returns, and the packet made from
// it copies what it keeps.
func (c *conn) read(payload io.Reader) ([]byte, error) {
	buf := bytes.NewBuffer(c.scratch[:0])
	if _, err := buf.ReadFrom(payload); err != nil {
		return nil, c.fail(fmt.Errorf("read RTMP message payload: %w", err))
	}
	c.scratch = buf.Bytes()
	return c.scratch, nil
}

// media passes on an error that ends the publish, having recorded it and,
// for a codec we do not take, said so.
func (c *conn) media(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnsupportedCodec) {
		c.log.Warn("refused stream: unsupported codec: only H.264 video and AAC or MP3 audio are accepted", "err", err)
	}
	return c.fail(err)
}

// OnClose is go-rtmp's last call, on the connection's goroutine: the
// publish ends here, whatever ended it.
func (c *conn) OnClose() {
	defer c.catch(nil)
	c.cancel()
	if c.startTimer != nil {
		c.startTimer.Stop()
	}
	c.watch.Wait()
	reason := c.closeReason()
	if c.pub == nil {
		// Refusals at the door are logged by address and rate (refused),
		// wrong keys by authenticate.
		// Anyone can open connections that end here as fast as they
		// like: one line per address a minute, with the first's reason;
		// each at debug level.
		if reason != nil && !errors.Is(reason, ErrUnauthorized) && !errors.Is(reason, ErrTooManyConnections) &&
			!errors.Is(reason, ErrTLSHandshake) && !errors.Is(reason, ErrProxyHeader) &&
			!errors.Is(reason, errHealthCheck) && !errors.Is(reason, ErrDisconnected) {
			err := errors.New(c.redact(reason.Error()))
			c.log.Debug("connection closed", "err", err)
			c.srv.refused(closedEarly, door.Prefix(c.addr), err)
		}
		return
	}
	c.srv.counters.publishing.Add(-1) // before End, which a buggy Sink may panic in
	c.pub.end(reason)
	c.pub.logEnded(c.publishedAt, reason, c.redact)
}

// sendStatus sends an onStatus error on stream streamID, so that the
// publisher shows why it was refused (go-rtmp's own says only "Publish
// failed."). description must not hold a secret.
func (c *conn) sendStatus(streamID uint32, code message.NetStreamOnStatusCode, description string) {
	if c.rc == nil {
		return
	}
	if len(description) > maxStatusDescription {
		description = strings.ToValidUTF8(description[:maxStatusDescription], "")
	}
	var body bytes.Buffer
	status := &message.NetStreamOnStatus{InfoObject: message.NetStreamOnStatusInfoObject{
		Level: message.NetStreamOnStatusLevelError, Code: code, Description: description,
	}}
	if err := message.EncodeBodyAnyValues(message.NewAMFEncoder(&body, message.EncodingTypeAMF0), status); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.IdleTimeout)
	defer cancel()
	msg := &message.CommandMessage{CommandName: "onStatus", Encoding: message.EncodingTypeAMF0, Body: &body}
	if err := c.rc.Write(ctx, statusChunkStream, 0, &rtmp.ChunkMessage{StreamID: streamID, Message: msg}); err != nil {
		c.log.Debug("send onStatus", "err", err)
	}
}
