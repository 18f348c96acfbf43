package ingest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// rwConn is the net.Conn go-rtmp reads and writes. go-rtmp sets no
// deadlines, so without them a publisher whose network died would hold its
// goroutine forever: every Read gets IdleTimeout (and, until the publish is
// accepted, the HandshakeTimeout deadline), every Write IdleTimeout. Every
// byte read goes through the chunk guard before go-rtmp sees it.
//
// Read, and the fields it uses, belong to go-rtmp's connection goroutine,
// which also runs the handler: authorize is called from there.
type rwConn struct {
	net.Conn
	c         *conn
	idle      time.Duration
	publishBy time.Time // zero once the publish is accepted
	handshake time.Duration
	guard     *chunkGuard
	// healthCheck is set after a LOCAL PROXY header until the first byte:
	// a close then is a load balancer's health check.
	healthCheck bool

	closeOnce sync.Once
}

func (w *rwConn) Read(p []byte) (int, error) {
	deadline := time.Now().Add(w.idle)
	if !w.publishBy.IsZero() && w.publishBy.Before(deadline) {
		deadline = w.publishBy
	}
	if err := w.Conn.SetReadDeadline(deadline); err != nil {
		return 0, w.c.fail(fmt.Errorf("set read deadline: %w", err))
	}
	n, err := w.Conn.Read(p)
	if w.healthCheck && errors.Is(err, io.EOF) && n == 0 {
		w.c.fail(errHealthCheck)
	}
	if n > 0 {
		w.healthCheck = false
		if gerr := w.guard.feed(p[:n]); gerr != nil {
			return 0, w.c.fail(gerr)
		}
	}
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		// io.EOF as is: go-rtmp compares it, and a publisher's FIN is a
		// clean end. Recorded, so that go-rtmp's own line about it (one
		// per connection, which a peer can open and close by the
		// thousand) is left out.
		w.c.fail(ErrDisconnected)
	case errors.As(err, &ne) && ne.Timeout():
		if !w.publishBy.IsZero() && !time.Now().Before(w.publishBy) {
			err = fmt.Errorf("no publish within %v: %w", w.handshake, ErrIdleTimeout)
		} else {
			err = fmt.Errorf("nothing received for %v: %w", w.idle, ErrIdleTimeout)
		}
		w.c.fail(err)
	default:
		err = w.c.fail(fmt.Errorf("read from publisher: %w", err))
	}
	return n, err
}

func (w *rwConn) Write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(time.Now().Add(w.idle)); err != nil {
		return 0, w.c.fail(fmt.Errorf("set write deadline: %w", err))
	}
	n, err := w.Conn.Write(p)
	if err != nil {
		w.c.fail(fmt.Errorf("write to publisher: %w", err))
	}
	return n, err
}

// Close is go-rtmp's, called last when it is done with the connection: the
// connection is then over for Shutdown too.
func (w *rwConn) Close() error {
	err := w.Conn.Close()
	w.closeOnce.Do(w.c.closed)
	return err
}

// authorize lifts the pre-publish limits once the publish is accepted.
func (w *rwConn) authorize(maxMessage int) {
	w.publishBy = time.Time{}
	w.guard.authorize(maxMessage)
}
