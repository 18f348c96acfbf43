package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/livestream/livestream/media"
	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// RTMP chunk streams of the messages we send, as FFmpeg and OBS use them.
const (
	csidData  = 5
	csidAudio = 4
	csidVideo = 6
	csidCtrl  = 3
)

// chunkSize is our outgoing chunk size: RTMP's 128-byte default costs a
// header every 128 bytes of video.
const chunkSize = 4096

// idleCheck is how often an idle connection is checked for loss.
const idleCheck = 250 * time.Millisecond

// refusedWindow: a destination that closes the connection this soon after
// publish refused it (a wrong key: nginx-rtmp, YouTube and Twitch answer
// with an error status and hang up, and go-rtmp does not surface onStatus),
// so the next attempt waits MaxBackoff.
const refusedWindow = 3 * time.Second

var (
	errRefused   = errors.New("destination closed the connection right after publish (stream key refused?)")
	errConnLost  = errors.New("connection lost")
	errNoAnswer  = errors.New("destination did not answer in time")
	errWriteSlow = errors.New("write timed out")
)

// result is how one connection ended.
type result struct {
	err     error
	stopped bool // Close was called
	refused bool
	wasLive bool
}

// session makes one connection and sends until it fails or Close.
func (r *Relay) session() result {
	sock := &socket{}
	r.mu.Lock()
	r.sock = sock
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.sock = nil
		r.mu.Unlock()
	}()
	defer sock.release()

	cc, stream, err := r.publish(sock)
	if err != nil {
		select {
		case <-r.stop:
			return result{err: err, stopped: true}
		default:
		}
		return result{err: err}
	}
	defer cc.Close()
	defer sock.abort() // before cc.Close: go-rtmp waits up to 3 s for stuck writers
	published := time.Now()
	r.setState(Live)
	r.log.Info("relay publishing")
	err = r.send(sock, cc, stream)
	if errors.Is(err, errStopped) {
		r.unpublish(sock, cc, stream)
		return result{stopped: true, wasLive: true}
	}
	res := result{err: err, wasLive: true}
	if errors.Is(err, errConnLost) && time.Since(published) < refusedWindow {
		res.err, res.refused, res.wasLive = errRefused, true, false
	}
	return res
}

var errStopped = errors.New("stopped")

// publish dials and runs the RTMP handshake, connect, createStream and
// publish, all within DialTimeout. Errors name the destination by
// scheme://host only: go-rtmp's own errors never contain the stream name,
// and the dialer's contain only the address.
func (r *Relay) publish(sock *socket) (*rtmp.ClientConn, *rtmp.Stream, error) {
	d := r.dest
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.DialTimeout)
	defer cancel()
	// stopDial ends a TCP connect in progress (net.Dialer.Cancel: go-rtmp
	// dials without a context); abortOnDone ends the handshake and the
	// commands, which go-rtmp waits for without a deadline.
	stopDial := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-r.stop:
			cancel()
		}
		close(stopDial)
	}()
	abortOnDone := context.AfterFunc(ctx, sock.abort)
	defer abortOnDone()

	dialer := &net.Dialer{Timeout: r.cfg.DialTimeout, Control: sock.control, Cancel: stopDial}
	var cc *rtmp.ClientConn
	var err error
	if d.scheme == "rtmps" {
		tc := &tls.Config{}
		if r.cfg.TLS != nil {
			tc = r.cfg.TLS.Clone()
		}
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(d.addr)
			tc.ServerName = host
		}
		cc, err = rtmp.DialWithTLSDialer(&tls.Dialer{NetDialer: dialer, Config: tc}, "rtmps", d.addr, &rtmp.ConnConfig{})
	} else {
		cc, err = rtmp.DialWithDialer(dialer, "rtmp", d.addr, &rtmp.ConnConfig{})
	}
	if err != nil {
		return nil, nil, r.dialError("connect", ctx, err)
	}
	fail := func(step string, err error) (*rtmp.ClientConn, *rtmp.Stream, error) {
		sock.abort()
		_ = cc.Close()
		return nil, nil, r.dialError(step, ctx, err)
	}
	err = cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{
		App:      d.app,
		Type:     "nonprivate",
		FlashVer: "FMLE/3.0 (compatible; livestream)",
		TCURL:    d.tcURL,
	}})
	if err != nil {
		return fail("RTMP connect", err)
	}
	stream, err := cc.CreateStream(nil, chunkSize)
	if err != nil {
		return fail("RTMP createStream", err)
	}
	err = stream.Publish(&message.NetStreamPublish{PublishingName: d.name, PublishingType: "live"})
	if err != nil {
		return fail("RTMP publish", err)
	}
	if ctx.Err() != nil { // the watchdog fired as publish returned
		return fail("RTMP publish", ctx.Err())
	}
	return cc, stream, nil
}

// dialError names the step and the destination; a timeout or stop is said
// as such rather than as the broken pipe the abort caused.
func (r *Relay) dialError(step string, ctx context.Context, err error) error {
	select {
	case <-r.stop:
		return fmt.Errorf("%s to %s: %w", step, r.dest.public, errStopped)
	default:
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s to %s: %w after %v", step, r.dest.public, errNoAnswer, r.cfg.DialTimeout)
	}
	var rej *rtmp.ConnectRejectedError
	if errors.As(err, &rej) {
		return fmt.Errorf("%s to %s: application %q rejected", step, r.dest.public, r.dest.app)
	}
	return fmt.Errorf("%s to %s: %s", step, r.dest.public, scrub(err.Error(), r.dest.name))
}

// scrub removes the stream name from a message of a library, in case one
// ever quotes it.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return string(bytes.ReplaceAll([]byte(msg), []byte(secret), []byte("[redacted]")))
}

// send writes onMetaData and the sequence headers, then queued packets
// from the next keyframe, until the connection fails (errConnLost,
// errWriteSlow) or Close (errStopped).
func (r *Relay) send(sock *socket, cc *rtmp.ClientConn, stream *rtmp.Stream) error {
	w := &writer{r: r, sock: sock, cc: cc, stream: stream}
	started := false
	// go-rtmp notices a closed connection only in its read loop: look at
	// it while the stream is idle too, so that a reconnect does not wait
	// for the next packet.
	idle := time.NewTicker(idleCheck)
	defer idle.Stop()
	for {
		var p *media.Packet
		select {
		case <-r.stop:
			if started {
				r.flush(w)
			}
			return errStopped
		case <-idle.C:
			if err := cc.LastError(); err != nil {
				return fmt.Errorf("send to %s: %w (%s)", r.dest.public, errConnLost, scrub(rootCause(err), r.dest.name))
			}
			continue
		case p = <-r.queue:
		}
		if p.Kind == media.Break || (r.next.Load() != nil && r.isKeyframe(p)) {
			if err := r.nextPublish(w, started); err != nil {
				return err
			}
			if p.Kind == media.Break {
				continue
			}
		}
		if !started {
			if !r.isKeyframe(p) {
				// A relay begins at a keyframe: what comes before the
				// first one of its life (a relay started mid-stream)
				// was never its to send. After a reconnect it is lost.
				if r.sentKeyframe {
					r.drop(1)
				}
				continue
			}
			r.sentKeyframe = true
			if err := w.headers(r.timestamp(p.DTS)); err != nil {
				return err
			}
			started = true
		}
		if err := w.packet(p); err != nil {
			return err
		}
	}
}

// nextPublish applies the codecs of the stream's next publish (a Break's
// Params): the destination gets its sequence headers and onMetaData at
// once, on the stream's running timestamps, so that it sees one stream
// whose codec configuration changed, as when an encoder restarts.
func (r *Relay) nextPublish(w *writer, started bool) error {
	next := r.next.Swap(nil)
	if next == nil {
		return nil
	}
	if v := next.Video; v != nil && r.video != nil {
		if _, err := videoSequenceHeader(v); err != nil {
			r.log.Warn("relay keeps its video headers: the new publish's are unusable", "err", err)
		} else {
			c := *v
			r.video = &c
		}
	}
	if a := next.Audio; a != nil && r.audio != nil {
		if _, err := audioSequenceHeader(a); err != nil {
			r.log.Warn("relay keeps its audio headers: the new publish's are unusable", "err", err)
		} else {
			c := *a
			r.audio = &c
		}
	}
	r.log.Info("relay continues with the stream's next publisher")
	if !started {
		return nil // the headers go out with the first keyframe
	}
	return w.headers(w.lastTS)
}

// flush sends what is still queued when Close is called: the end of the
// stream (its last packets, written just before Close) reaches the
// destination rather than being cut. It gives up after flushTimeout, and
// on the first error; Close cuts a destination that blocks the writes.
func (r *Relay) flush(w *writer) {
	deadline := time.Now().Add(flushTimeout)
	for time.Now().Before(deadline) {
		select {
		case p := <-r.queue:
			if err := w.packet(p); err != nil {
				return
			}
		default:
			return
		}
	}
	for {
		select {
		case <-r.queue:
			r.drop(1)
		default:
			return
		}
	}
}

// unpublish says goodbye and closes cc, within unpublishTimeout: FCUnpublish and
// deleteStream, as FFmpeg and OBS end a publish. Both go out as plain
// command messages on the publishing stream: go-rtmp's
// ClientConn.DeleteStream changes its stream table without the lock its
// read loop takes, which is a data race.
func (r *Relay) unpublish(sock *socket, cc *rtmp.ClientConn, stream *rtmp.Stream) {
	t := time.AfterFunc(unpublishTimeout, sock.abort)
	defer t.Stop()
	// go-rtmp writes a message only once the previous one of its chunk
	// stream is out, but interleaves chunk streams freely: a goodbye on a
	// chunk stream of its own could overtake the end of the stream still
	// queued (flush) and end the publish before it. So FCUnpublish goes
	// on the audio chunk stream (after the last audio), deleteStream on
	// the video one (after the last video).
	fcCSID, deleteCSID := csidCtrl, csidCtrl
	if r.audio != nil {
		fcCSID = csidAudio
	}
	if r.video != nil {
		deleteCSID = csidVideo
	}
	cmds := []struct {
		name string
		csid int
		body message.AMFConvertible
	}{
		{"FCUnpublish", fcCSID, &message.NetStreamFCUnpublish{StreamName: r.dest.name}},
		{"deleteStream", deleteCSID, &message.NetStreamDeleteStream{StreamID: stream.StreamID()}},
	}
	for _, c := range cmds {
		var body bytes.Buffer
		enc := message.NewAMFEncoder(&body, message.EncodingTypeAMF0)
		if err := message.EncodeBodyAnyValues(enc, c.body); err != nil {
			return
		}
		err := stream.Write(c.csid, 0, &message.CommandMessage{
			CommandName: c.name,
			Encoding:    message.EncodingTypeAMF0,
			Body:        &body,
		})
		if err != nil {
			return
		}
	}
	// Close only once the destination has read everything: a close with
	// its answers (onFCUnpublish, onStatus) still unread makes our kernel
	// answer them with a reset, and a reset makes the destination's
	// kernel drop what it has not read yet, the end of the stream among
	// it. So: wait until deleteStream is out (a Write on its chunk stream
	// waits for the previous message there), send FIN, and let the
	// destination close first, within unpublishTimeout.
	if err := stream.Write(deleteCSID, 0, &message.WinAckSize{Size: 2500000}); err == nil {
		sock.closeWrite()
		// go-rtmp has no channel for the end of its read loop: look at
		// its last error (EOF once the destination has closed).
		deadline := time.Now().Add(unpublishTimeout)
		for cc.LastError() == nil && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	_ = cc.Close()
	r.log.Info("relay unpublished")
}

// timestamp converts a DTS to RTMP milliseconds from the stream's first
// packet (the first WritePacket). Anything before it is sent at 0.
func (r *Relay) timestamp(dts int64) uint32 {
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	ms := (dts - base) / (media.ClockRate / 1000)
	if ms < 0 {
		return 0
	}
	return uint32(ms) // RTMP timestamps wrap after 49.7 days, as they should
}

// writer writes the messages of one connection, each bounded by
// WriteTimeout.
type writer struct {
	r      *Relay
	sock   *socket
	cc     *rtmp.ClientConn
	stream *rtmp.Stream
	lastTS uint32 // of the last packet sent
}

func (w *writer) headers(ts uint32) error {
	meta, err := metadata(w.r.video, w.r.audio)
	if err != nil {
		return err
	}
	if err := w.write(csidData, ts, &message.DataMessage{
		Name:     "@setDataFrame",
		Encoding: message.EncodingTypeAMF0,
		Body:     bytes.NewReader(meta),
	}, len(meta)); err != nil {
		return err
	}
	if w.r.video != nil {
		tag, err := videoSequenceHeader(w.r.video)
		if err != nil {
			return err
		}
		if err := w.write(csidVideo, ts, &message.VideoMessage{Payload: bytes.NewReader(tag)}, len(tag)); err != nil {
			return err
		}
	}
	if w.r.audio != nil {
		tag, err := audioSequenceHeader(w.r.audio)
		if err != nil {
			return err
		}
		if err := w.write(csidAudio, ts, &message.AudioMessage{Payload: bytes.NewReader(tag)}, len(tag)); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) packet(p *media.Packet) error {
	ts := w.r.timestamp(p.DTS)
	w.lastTS = ts
	switch {
	case p.Kind == media.Video && w.r.video != nil:
		cts := (p.PTS - p.DTS) / (media.ClockRate / 1000)
		tag, err := videoFrame(p, int32(max(min(cts, 1<<23-1), -(1<<23))))
		if err != nil {
			return err
		}
		if err := w.write(csidVideo, ts, &message.VideoMessage{Payload: bytes.NewReader(tag)}, len(tag)); err != nil {
			return err
		}
	case p.Kind == media.Audio && w.r.audio != nil:
		tag, err := audioFrame(p)
		if err != nil {
			return err
		}
		if err := w.write(csidAudio, ts, &message.AudioMessage{Payload: bytes.NewReader(tag)}, len(tag)); err != nil {
			return err
		}
	default:
		return nil // a track the destination was not told about
	}
	w.r.packetsSent.Add(1)
	return nil
}

// write sends one message. go-rtmp queues it for its writer goroutine and
// waits for the previous message of the chunk stream; a destination that
// stops reading makes that wait, and so this call, last until the
// watchdog cuts the connection.
func (w *writer) write(csid int, ts uint32, msg message.Message, n int) error {
	if err := w.cc.LastError(); err != nil {
		return fmt.Errorf("send to %s: %w (%s)", w.r.dest.public, errConnLost, scrub(rootCause(err), w.r.dest.name))
	}
	fired := make(chan struct{})
	t := time.AfterFunc(w.r.cfg.WriteTimeout, func() {
		close(fired)
		w.sock.abort()
	})
	err := w.stream.Write(csid, ts, msg)
	t.Stop()
	select {
	case <-fired:
		return fmt.Errorf("send to %s: %w after %v", w.r.dest.public, errWriteSlow, w.r.cfg.WriteTimeout)
	default:
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w (%s)", w.r.dest.public, errConnLost, scrub(rootCause(err), w.r.dest.name))
	}
	w.r.bytesSent.Add(int64(n))
	return nil
}

// rootCause is the innermost message of a go-rtmp error chain, without
// its wrapping ("Failed to wait chunk writer: …").
func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	if errors.Is(err, io.EOF) {
		return "closed by the destination"
	}
	return err.Error()
}
