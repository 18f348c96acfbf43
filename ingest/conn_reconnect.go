package ingest

import (
	"bytes"
	"context"
	"time"

	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// reconnecter is a Sink that may want its publisher to publish again
// rather than stop, when its Done closes (the server drains: the publisher
// is to land on another server of the cluster).
type reconnecter interface {
	Reconnect() bool
}

// reconnectGrace is how long a publisher asked to reconnect has to do it
// itself (Enhanced RTMP clients open the new connection, then close this
// one) before the server closes the connection.
const reconnectGrace = 2 * time.Second

// askReconnect asks the publisher to publish again, and waits up to
// reconnectGrace for it to close the connection itself. The request goes
// out with the publisher's next audio or video message, from go-rtmp's
// goroutine: go-rtmp's writes are not safe from another one, and it writes
// on its own (acknowledgements, statuses). Clients that do not know the
// request ignore it; every client is disconnected after the grace, and
// those that reconnect on their own (OBS) come back within the stream's
// reconnect window.
func (c *conn) askReconnect() {
	c.wantReconnect.Store(true)
	ctx, cancel := context.WithTimeout(c.ctx, reconnectGrace)
	defer cancel()
	<-ctx.Done() // the client closing ends c.ctx
}

// sendReconnectRequest sends Enhanced RTMP v2's reconnect request, once,
// when askReconnect wants it: an onStatus on the connection's stream 0
// with NetConnection.Connect.ReconnectRequest and no tcUrl (the same URL:
// the proxy places the publisher on another server). It runs on go-rtmp's
// goroutine.
func (c *conn) sendReconnectRequest() {
	if !c.wantReconnect.Load() || c.reconnectSent || c.rc == nil {
		return
	}
	c.reconnectSent = true
	var body bytes.Buffer
	enc := message.NewAMFEncoder(&body, message.EncodingTypeAMF0)
	info := map[string]any{
		"level":       "status",
		"code":        "NetConnection.Connect.ReconnectRequest",
		"description": "the server is going away: publish again to the same URL",
	}
	// The command object is null; the info object says what to do.
	if err := enc.Encode(nil); err != nil {
		return
	}
	if err := enc.Encode(info); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, reconnectGrace)
	defer cancel()
	msg := &message.CommandMessage{CommandName: "onStatus", Encoding: message.EncodingTypeAMF0, Body: &body}
	// Transaction 0: no answer is expected.
	if err := c.rc.Write(ctx, statusChunkStream, 0, &rtmp.ChunkMessage{StreamID: 0, Message: msg}); err != nil {
		c.log.Debug("send reconnect request", "err", err)
		return
	}
	c.log.Info("asked the publisher to reconnect")
}
