package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/livestream/livestream/registry"
	rtmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// authTimeout bounds a key lookup (a Redis round trip in a cluster).
const authTimeout = 5 * time.Second

// OnPublish authenticates the key in the publishing name and asks the
// Handler for a Sink. An error refuses the publish: we send an onStatus
// error saying why, go-rtmp its own "Publish failed." and closes.
func (c *conn) OnPublish(sc *rtmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) (err error) {
	defer c.catch(&err)
	c.addSecret(cmd.PublishingName)
	if c.pub != nil {
		return c.fail(errors.New("publish twice on one connection"))
	}
	key, rawQuery := splitPublishingName(cmd.PublishingName)
	ch, err := c.authenticate(key)
	if err != nil {
		code, desc := message.NetStreamOnStatusCodePublishBadName, "unauthorized: unknown or revoked stream key"
		if !errors.Is(err, ErrUnauthorized) {
			code, desc = message.NetStreamOnStatusCodePublishFailed, "authentication unavailable: try again later"
		}
		c.sendStatus(sc.StreamID, code, desc)
		return c.fail(err)
	}
	c.log = c.log.With("channel", ch.ID)

	query, qerr := url.ParseQuery(rawQuery)
	if qerr != nil { // the pairs before the bad one are kept; none is logged
		c.log.Warn("ignoring malformed query parameters in the publishing name")
	}
	sink, err := c.srv.cfg.Handler.Publish(c.ctx, ch, PublishInfo{RemoteAddr: c.remote, Query: query})
	if err != nil {
		desc := c.redact(err.Error())
		c.log.Warn("publish refused by handler", "err", desc)
		c.srv.counters.handler.Add(1)
		c.sendStatus(sc.StreamID, message.NetStreamOnStatusCodePublishFailed, desc)
		return c.fail(fmt.Errorf("handler refused publish: %s", desc))
	}

	now := time.Now()
	c.pub = newPublish(sink, c.log, c.srv.cfg.StartTimeout, now, &c.srv.counters.dropped)
	c.srv.counters.publishing.Add(1)
	c.publishedAt = now
	c.streamID = sc.StreamID
	c.rw.authorize(c.srv.cfg.MaxMessageSize)
	c.log.Info("publish accepted", "playback_id", ch.PlaybackID)

	pub := c.pub
	c.startTimer = time.AfterFunc(c.srv.cfg.StartTimeout+startGrace, func() {
		if pub.abandon() {
			c.stop(pub.noHeaders())
		}
	})
	c.watch.Go(func() {
		select {
		case <-sink.Done():
			if r, ok := sink.(reconnecter); ok && r.Reconnect() {
				c.askReconnect()
			}
			c.log.Info("publish ended by its sink")
			c.stop(ErrSinkDone)
		case <-c.ctx.Done():
		}
	})
	return nil
}

// authenticate resolves key to its channel, refusing it with
// ErrUnauthorized (logged with the address and reason, never the key;
// after the delay Config.AuthFailures sets for its address) or with an
// error of the Authenticator's. A right key is never delayed.
func (c *conn) authenticate(key streamKey) (registry.Channel, error) {
	return c.srv.authenticate(c.ctx, c.addr, key, c.log, c.redact)
}

// authenticate is the key check of every ingest protocol (RTMP's conn,
// AcceptPublish for SRT): the lookup, then, for a wrong key, the delay its
// address has earned, waited here until ctx is done. redact scrubs the
// connection's secrets from an Authenticator's error before it is logged.
func (s *Server) authenticate(ctx context.Context, addr netip.Addr, key streamKey, log *slog.Logger, redact func(string) string) (registry.Channel, error) {
	var ch registry.Channel
	err := fmt.Errorf("key of %d bytes: %w", len(key), registry.ErrMalformedKey)
	if key.wellFormed() {
		ctx, cancel := context.WithTimeout(ctx, authTimeout)
		ch, err = s.cfg.Auth.Authenticate(ctx, key.reveal())
		cancel()
	}
	switch {
	case err == nil:
		return ch, nil
	case errors.Is(err, registry.ErrUnknownKey), errors.Is(err, registry.ErrMalformedKey):
		wait := s.limiter.fail(addr, time.Now())
		s.counters.unknownKey.Add(1)
		reason := "unknown or revoked stream key"
		if errors.Is(err, registry.ErrMalformedKey) {
			reason = "malformed stream key"
		}
		attrs := []any{"key_hash", key.hash()}
		if wait > 0 {
			s.counters.delayed.Add(1)
			attrs = append(attrs, "delayed", wait)
		}
		log.Warn("refused publish: "+reason, attrs...)
		pause(ctx, wait)
		return registry.Channel{}, fmt.Errorf("%s: %w", reason, ErrUnauthorized)
	default:
		msg := redact(err.Error())
		log.Error("authenticate stream key", "key_hash", key.hash(), "err", msg)
		s.counters.unavailable.Add(1)
		return registry.Channel{}, fmt.Errorf("authenticate stream key: %s", msg)
	}
}

// pause waits d, or until ctx is done (the connection is stopped).
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
