package ingest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/livestream/livestream/door"
	"io"
	"time"
)

// handshakeTLS does an RTMPS connection's TLS handshake, on go-rtmp's
// goroutine before its RTMP handshake, within HandshakeTimeout of the
// accept: a peer that sends nothing, or half a ClientHello, holds its
// slot until then and no longer, and no other connection waits for it.
// From then on the connection reads and writes through TLS. A failed
// handshake closes the connection; it is counted and logged by address
// and rate, not one line each (anyone can open them), except a peer that
// closed without a byte (a TCP health check), which is not counted.
func (c *conn) handshakeTLS(cfg *tls.Config) {
	tc := tls.Server(c.rw.Conn, cfg)
	if err := c.nc.SetDeadline(c.rw.publishBy); err != nil {
		c.stop(fmt.Errorf("set TLS handshake deadline: %w", err))
		return
	}
	err := tc.Handshake()
	if err == nil {
		err = c.nc.SetDeadline(time.Time{}) // rwConn sets its own on each read and write
	}
	if err != nil {
		if c.ctx.Err() != nil { // Shutdown closed it
			return
		}
		if !errors.Is(err, io.EOF) {
			c.srv.counters.tlsHandshake.Add(1)
			c.srv.refused(refusedTLS, door.Prefix(c.addr), err)
		}
		c.stop(fmt.Errorf("%w: %v", ErrTLSHandshake, err))
		return
	}
	c.rw.Conn = tc
	st := tc.ConnectionState()
	c.log = c.log.With("tls", tls.VersionName(st.Version))
}
