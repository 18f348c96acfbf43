package srt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asticode/go-astits"
	gosrt "github.com/datarhei/gosrt"
	"github.com/livestream/livestream/ingest"
)

// readBuffer is the TS reader's buffer: gosrt hands one SRT payload (7 TS
// packets) per Read; go-astits reads 188 bytes at a time.
const readBuffer = 64 << 10

// errShutdown is the reason Shutdown gives a connection.
var errShutdown = ingest.ErrServerClosed

// conn is one SRT connection request and, once accepted, its publish.
// stop may be called from any goroutine; the rest is run's.
type conn struct {
	srv    *Server
	remote string
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	reason error
	sc     gosrt.Conn
}

func newConn(s *Server, req gosrt.ConnRequest) *conn {
	c := &conn{srv: s, remote: req.RemoteAddr().String()}
	c.log = s.log.With("remote", c.remote, "protocol", "srt")
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// stop ends the connection for reason (the first reason given wins).
func (c *conn) stop(reason error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = reason
	}
	sc := c.sc
	c.mu.Unlock()
	c.cancel()
	if sc != nil {
		sc.Close()
	}
}

func (c *conn) closeReason() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// run admits or rejects the request, then serves the publish until it
// ends. A panic ends this connection alone, logged once with its stack.
func (c *conn) run(req gosrt.ConnRequest) {
	defer c.cancel()
	var pub *ingest.Publish
	defer func() {
		if r := recover(); r != nil {
			perr := fmt.Errorf("panic: %v", r)
			c.log.Error("panic in SRT connection", "err", perr, "stack", string(debug.Stack()))
			c.stop(perr)
			if pub != nil {
				pub.End(perr)
			}
		}
	}()
	pub, code, err := c.admit(req)
	if err != nil {
		req.Reject(onWire(code))
		return
	}
	sc, err := req.Accept()
	if err != nil {
		pub.End(fmt.Errorf("accept SRT connection: %w", err))
		return
	}
	c.mu.Lock()
	c.sc = sc
	stopped := c.reason != nil
	c.mu.Unlock()
	if stopped { // Shutdown came during the admission
		sc.Close()
	}
	reason := c.serve(pub, sc)
	sc.Close()
	pub.End(reason)
}

// admit checks the request's stream id and passphrase, then has ingest
// accept the publish (key, slowdown of failed keys, Handler). A refusal is the SRT
// rejection code the caller sees, and the error logged; the stream id is
// never logged (it holds the key).
func (c *conn) admit(req gosrt.ConnRequest) (*ingest.Publish, gosrt.RejectionReason, error) {
	refuse := func(code gosrt.RejectionReason, err error) (*ingest.Publish, gosrt.RejectionReason, error) {
		c.log.Warn("refused SRT connection", "err", err, "reject_code", int(code))
		return nil, code, err
	}
	cnt := &c.srv.counters
	if req.Version() < 5 {
		cnt.version.Add(1)
		return refuse(gosrt.REJ_VERSION, errors.New("SRT handshake v4 carries no stream id (a caller older than SRT 1.3)"))
	}
	id, err := parseStreamID(req.StreamId(), c.srv.cfg.App)
	if errors.Is(err, errNotPublish) {
		cnt.mode.Add(1)
		return refuse(gosrt.REJX_BAD_MODE, fmt.Errorf("%v: only publishing is served", err))
	}
	if err != nil {
		cnt.streamID.Add(1)
		return refuse(gosrt.REJX_BAD_REQUEST, err)
	}
	switch p := c.srv.cfg.Passphrase; {
	case p == "" && req.IsEncrypted():
		cnt.passphrase.Add(1)
		return refuse(gosrt.REJ_UNSECURE, errors.New("the publisher encrypts and the server has no passphrase"))
	case p != "" && !req.IsEncrypted():
		cnt.passphrase.Add(1)
		return refuse(gosrt.REJ_UNSECURE, errors.New("the server requires a passphrase and the publisher sent none"))
	case p != "":
		if err := req.SetPassphrase(p); err != nil {
			cnt.passphrase.Add(1)
			return refuse(gosrt.REJ_BADSECRET, errors.New("wrong passphrase"))
		}
	}
	query, qerr := url.ParseQuery(id.rawQuery)
	if qerr != nil { // the pairs before the bad one are kept; none is logged
		c.log.Warn("ignoring malformed query parameters in the stream id")
	}
	pub, err := c.srv.cfg.Ingest.AcceptPublish(c.ctx, ingest.PublishRequest{RemoteAddr: c.remote, Key: id.key, Query: query, Log: c.log})
	if err != nil {
		// AcceptPublish has logged the refusal (without the key).
		code := gosrt.REJX_ISE
		switch {
		case errors.Is(err, ingest.ErrUnauthorized):
			code = gosrt.REJX_UNAUTHORIZED
		case errors.Is(err, ingest.ErrRefused):
			code = gosrt.REJX_CONFLICT
		case errors.Is(err, ingest.ErrServerClosed):
			code = gosrt.REJ_CLOSE
		}
		return nil, code, err
	}
	c.log = pub.Log()
	return pub, 0, nil
}

// serve reads the publish's TS until the publisher closes (nil), the
// connection is stopped (its reason), or the stream breaks our rules.
func (c *conn) serve(pub *ingest.Publish, sc gosrt.Conn) error {
	var watch sync.WaitGroup
	defer watch.Wait()
	defer c.cancel() // before the Wait: ends the watcher
	idle := time.AfterFunc(c.srv.cfg.IdleTimeout, func() { c.stop(ingest.ErrIdleTimeout) })
	defer idle.Stop()
	watch.Go(func() {
		select {
		case <-pub.Done():
			c.log.Info("publish ended by its sink")
			c.stop(ingest.ErrSinkDone)
		case <-c.ctx.Done():
		}
	})
	r := bufio.NewReaderSize(&idleReader{r: sc, t: idle, d: c.srv.cfg.IdleTimeout}, readBuffer)
	dmx := astits.NewDemuxer(c.ctx, r, astits.DemuxerOptPacketSize(astits.MpegTsPacketSize))
	m := newTSMapper(pub)
	logged := false
	for {
		d, err := dmx.NextData()
		if reason := c.closeReason(); reason != nil {
			return reason
		}
		switch {
		case errors.Is(err, astits.ErrNoMorePackets):
			return nil // the publisher closed the connection (SRT shutdown)
		case errors.Is(err, astits.ErrPacketMustStartWithASyncByte):
			c.srv.counters.notTS.Add(1)
			c.log.Warn("refused stream: the publisher does not send MPEG-TS (no sync byte): send -f mpegts")
			return ErrNotMPEGTS
		case err != nil:
			return fmt.Errorf("read MPEG-TS: %w", err)
		}
		if err := m.handle(d); err != nil {
			if errors.Is(err, ingest.ErrUnsupportedCodec) {
				c.log.Warn("refused stream: unsupported codec: only H.264 or HEVC video and AAC, MP2 or MP3 audio are accepted", "err", err)
			}
			return err
		}
		if !logged && len(m.Ignored()) > 0 {
			logged = true
			c.log.Warn("streams of the MPEG-TS left out: codec not taken", "streams", m.Ignored())
		}
		if err := pub.CheckStart(time.Now()); err != nil {
			return err
		}
	}
}

// onWire is a rejection code as the handshake must carry it. A handshake
// carries 1000 + the reason (libsrt's URQ_FAILURE_TYPES), and the
// access-control codes (SRT_REJX_*, 1400 and up) are reasons of 1000 + an
// HTTP-like code, so 1401 goes out as 2401. gosrt sends its REJX constants
// as they are, which libsrt callers (ffmpeg, OBS) read as an unknown
// reason; its REJ_* constants (1000 + libsrt's own reasons) are right.
func onWire(code gosrt.RejectionReason) gosrt.RejectionReason {
	if code >= gosrt.REJX_BAD_REQUEST {
		return 1000 + code
	}
	return code
}

// idleReader resets the idle timer on every read that brings media.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.t.Reset(r.d)
	}
	return n, err
}
