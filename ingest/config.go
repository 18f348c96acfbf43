package ingest

import (
	"errors"
	"fmt"
	"github.com/livestream/livestream/door"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Config sets up a Server. Zero fields take the defaults named.
type Config struct {
	// App is the RTMP application publishers connect to: they publish to
	// rtmp://HOST:PORT/App/STREAM_KEY. Default "stream".
	App string `yaml:"app" json:"app"`
	// Auth resolves a stream key to its channel. Required.
	Auth Authenticator `yaml:"-" json:"-"`
	// Handler receives each authenticated publish. Required.
	Handler Handler `yaml:"-" json:"-"`
	// Logger receives the server's logs, with a child per connection.
	// Default slog.Default().
	Logger *slog.Logger `yaml:"-" json:"-"`

	// IdleTimeout closes a connection that sent nothing for this long: a
	// publisher whose network died without a FIN or RST. Default 10 s.
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// HandshakeTimeout bounds the time from accept to the publish command
	// (PROXY header, TLS handshake on an RTMPS listener, RTMP handshake,
	// connect, createStream, publish), so that a peer cannot hold a
	// connection open without publishing. Default 5 s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout" json:"handshake_timeout"`
	// MaxConns caps the RTMP connections open at once, publishing or not,
	// on all the server's listeners together; one more is closed as soon
	// as it is accepted, before anything is read or allocated for it.
	// Default 1000.
	MaxConns int `yaml:"max_conns" json:"max_conns"`
	// MaxConnsPerAddr caps the connections open at once from one address
	// (an IPv4 address, an IPv6 /64), so that one peer cannot hold every
	// slot of MaxConns: one more is closed as soon as it is accepted,
	// before anything is read or allocated for it, and refusals are
	// logged once a minute per address. A publisher needs one (two for a
	// moment when it reconnects before its old connection times out).
	// With ProxyProtocol the peers are proxies and are not capped; the
	// cap applies to the publisher's address in each header instead.
	// Default 8; negative: no cap.
	MaxConnsPerAddr int `yaml:"max_conns_per_addr" json:"max_conns_per_addr"`
	// MaxMessageSize caps one RTMP message of an authorized publisher (a
	// video frame); a bigger one closes the connection. Before the publish
	// is authorized, every message is capped at 64 KiB. Default 4 MiB, at
	// least 64 KiB, at most 16 MiB − 1 (RTMP's 24-bit length).
	MaxMessageSize int `yaml:"max_message_size" json:"max_message_size"`
	// StartTimeout is how long after publish the codec headers may take.
	// The Sink starts as soon as every announced track has its header; a
	// track announced but silent is given up after this long and the
	// stream starts with what there is; with no header at all by then, the
	// publish ends. Default 5 s.
	StartTimeout time.Duration `yaml:"start_timeout" json:"start_timeout"`
	// AuthFailures slows down the refusals of wrong keys from one
	// address.
	AuthFailures AuthFailures `yaml:"auth_failures" json:"auth_failures"`

	// ProxyProtocol makes every connection open with a PROXY protocol
	// header, v1 or v2, as a cluster's proxy, HAProxy, nginx or a cloud
	// load balancer sends it: the publisher's address is then the
	// header's source, for AuthFailures, MaxConnsPerAddr, the logs and
	// PublishInfo.RemoteAddr. A connection without a valid header within
	// HandshakeTimeout is closed. A LOCAL header (a load balancer's health
	// check) keeps the connection's own address.
	ProxyProtocol bool `yaml:"proxy_protocol" json:"proxy_protocol"`
	// TrustedProxies, with ProxyProtocol, are the networks whose
	// connections are taken; one from elsewhere is closed as soon as it is
	// accepted, since its header could claim any address. Empty: any peer,
	// so only the proxies must be able to reach the RTMP listener.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies" json:"trusted_proxies"`
}

// AuthFailures slows down the refusals of wrong stream keys from one
// address (an IPv4 address, an IPv6 /64). A right key is never refused or
// delayed, whatever its address failed before: publishers behind one NAT
// must not lock each other out, and 160-bit random keys are not guessed.
// The delay protects the CPU from one address that keeps failing.
type AuthFailures struct {
	// Free is how many failures from one address (each within Window of
	// the one before) are refused at once. Default 5; negative: no delay at all.
	Free int `yaml:"free" json:"free"`
	// Delay is the wait before the refusal of the first failure after
	// the free ones; each next failure waits twice as long as the one
	// before, up to MaxDelay. Default 1 s.
	Delay time.Duration `yaml:"delay" json:"delay"`
	// MaxDelay caps the wait. Default 10 s.
	MaxDelay time.Duration `yaml:"max_delay" json:"max_delay"`
	// Window: an address's failures are forgotten this long after its
	// last one. Default 1 minute.
	Window time.Duration `yaml:"window" json:"window"`
}

// Bounds of Config.MaxMessageSize.
const (
	minMaxMessageSize = preAuthMaxMessage
	maxMaxMessageSize = 1<<24 - 1
)

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.App == "" {
		c.App = "stream"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 4 << 20
	}
	if c.MaxConns == 0 {
		c.MaxConns = 1000
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 5 * time.Second
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = door.DefaultMaxConnsPerAddr
	}
	if c.AuthFailures.Free == 0 {
		c.AuthFailures.Free = 5
	}
	if c.AuthFailures.Delay == 0 {
		c.AuthFailures.Delay = time.Second
	}
	if c.AuthFailures.MaxDelay == 0 {
		c.AuthFailures.MaxDelay = 10 * time.Second
	}
	if c.AuthFailures.Window == 0 {
		c.AuthFailures.Window = time.Minute
	}
	return c
}

// Validate reports every field of c (with defaults applied) that cannot
// work, each named as in a config file.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if c.Auth == nil {
		bad("auth", "must be set")
	}
	if c.Handler == nil {
		bad("handler", "must be set")
	}
	if c.App == "" || strings.ContainsAny(c.App, "/?") {
		bad("app", "%q: must be one path segment", c.App)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"idle_timeout", c.IdleTimeout},
		{"handshake_timeout", c.HandshakeTimeout},
		{"start_timeout", c.StartTimeout},
		{"auth_failures.window", c.AuthFailures.Window},
		{"auth_failures.delay", c.AuthFailures.Delay},
		{"auth_failures.max_delay", c.AuthFailures.MaxDelay},
	} {
		if d.v <= 0 {
			bad(d.field, "%v: must be positive", d.v)
		}
	}
	if c.MaxConns < 0 {
		bad("max_conns", "%d: must not be negative", c.MaxConns)
	}
	if c.AuthFailures.MaxDelay < c.AuthFailures.Delay {
		bad("auth_failures.max_delay", "%v: must not be below auth_failures.delay (%v)", c.AuthFailures.MaxDelay, c.AuthFailures.Delay)
	}
	if c.MaxMessageSize < minMaxMessageSize || c.MaxMessageSize > maxMaxMessageSize {
		bad("max_message_size", "%d: must be %d to %d", c.MaxMessageSize, minMaxMessageSize, maxMaxMessageSize)
	}
	if len(c.TrustedProxies) > 0 && !c.ProxyProtocol {
		bad("trusted_proxies", "only apply with proxy_protocol")
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "not a network")
		}
	}
	return errors.Join(errs...)
}
