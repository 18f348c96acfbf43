package proxy

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/livestream/livestream/registry"
)

// Defaults of Config's zero fields.
const (
	// DefaultDialTimeout bounds one dial: a server on a LAN answers in
	// milliseconds, and a dead one must not eat the publisher's patience.
	DefaultDialTimeout = 2 * time.Second
	// DefaultConnectTimeout bounds listing servers plus every dial of a
	// connection. OBS and FFmpeg give up on a silent server after about
	// 10 s; the publisher's handshake waits in the kernel meanwhile.
	DefaultConnectTimeout = 8 * time.Second
	// DefaultHalfCloseTimeout bounds how long a spliced connection stays
	// half open after one side finished, so that a peer that never closes
	// its side cannot hold a connection forever.
	DefaultHalfCloseTimeout = 10 * time.Second
	// DefaultLastKnownServers is how long the last server list read stays
	// usable while the registry cannot be read: a Redis outage of minutes
	// costs no publish that a server known before it can take.
	DefaultLastKnownServers = 10 * time.Minute
	// DefaultResponseTimeout bounds how long a server may take to answer
	// a publisher's command (connect, createStream, publish) before the
	// next server is tried: ours answer in milliseconds, a publish in
	// well under a second while its ladder starts.
	DefaultResponseTimeout = 5 * time.Second
)

// Config configures a Proxy. Zero fields mean defaults.
type Config struct {
	// Servers lists the healthy servers, least loaded first: the Redis
	// store's Servers. Required.
	Servers func(ctx context.Context) ([]registry.ServerInfo, error)
	// LastKnownServers is how long the last list Servers returned is
	// used, when Servers fails, to place publishes (the servers it names
	// that are gone fail their dial, and the next is tried); 0 means
	// 10 min.
	LastKnownServers time.Duration
	// DialTimeout bounds the dial of one server; 0 means 2 s.
	DialTimeout time.Duration
	// ConnectTimeout bounds, per connection, the Servers call and all
	// dials together; 0 means 8 s.
	ConnectTimeout time.Duration
	// HalfCloseTimeout bounds how long a connection stays half closed
	// once one side has finished sending; 0 means 10 s.
	HalfCloseTimeout time.Duration
	// ResponseTimeout bounds how long a server may leave a command of
	// the publisher unanswered before its publish is accepted; then the
	// next server is tried. 0 means 5 s.
	ResponseTimeout time.Duration
	// ProxyProtocol sends a PROXY protocol v2 header to the server before
	// the publisher's bytes, carrying the publisher's address. The servers
	// must expect it.
	ProxyProtocol bool
	// MaxConns bounds the open publisher connections; a connection over it
	// is closed at once. 0 means no limit.
	MaxConns int
	// MaxConnsPerAddr bounds the open connections from one address (an
	// IPv4 address, an IPv6 /64); one over it is closed at once, so that
	// one peer cannot hold every slot. 0 means DefaultMaxConnsPerAddr,
	// negative no limit. Behind a load balancer that hides the
	// publishers' addresses (all connections from its own), turn it off.
	MaxConnsPerAddr int
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.HalfCloseTimeout <= 0 {
		c.HalfCloseTimeout = DefaultHalfCloseTimeout
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = DefaultResponseTimeout
	}
	if c.LastKnownServers <= 0 {
		c.LastKnownServers = DefaultLastKnownServers
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	return c
}

// Validate reports the first field of c that is wrong.
func (c Config) Validate() error {
	switch {
	case c.Servers == nil:
		return errors.New("servers: required")
	case c.MaxConns < 0:
		return errors.New("max_conns: must not be negative")
	case c.DialTimeout < 0:
		return errors.New("dial_timeout: must not be negative")
	case c.ConnectTimeout < 0:
		return errors.New("connect_timeout: must not be negative")
	case c.ResponseTimeout < 0:
		return errors.New("response_timeout: must not be negative")
	case c.HalfCloseTimeout < 0:
		return errors.New("half_close_timeout: must not be negative")
	case c.LastKnownServers < 0:
		return errors.New("last_known_servers: must not be negative")
	}
	return nil
}
