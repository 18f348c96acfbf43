package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/livestream/livestream/tlsfile"
)

// DoorConfig is the part of the serve: section about how publishers come
// in, beyond plain RTMP: RTMPS and the per-address connection cap. serve,
// server and proxy read it alike.
type DoorConfig struct {
	// RTMPSAddr, when set, takes RTMPS publishers
	// (rtmps://HOST:1936/stream/KEY) with TLSCert and TLSKey, on top of
	// RTMP on RTMPAddr. Empty: no RTMPS.
	RTMPSAddr string `yaml:"rtmps_addr"`
	// TLSCert and TLSKey are the RTMPS certificate chain and private key
	// (PEM files). They are read again when they change (checked at most
	// every 5 s), so a renewal needs no restart; a pair that does not
	// load keeps the previous one in service and is logged as an error.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// MaxConnsPerAddr caps the RTMP and RTMPS connections open at once
	// from one address (an IPv4 address, an IPv6 /64), so that one peer
	// cannot hold every slot of max_conns; one more is closed as soon as
	// it is accepted. Behind proxies (proxy_protocol) it caps the
	// publishers' addresses, not the proxies'. Default 8; -1: no cap.
	MaxConnsPerAddr int `yaml:"max_conns_per_addr"`
}

// defaultMaxConnsPerAddr leaves room for a publisher reconnecting before
// its old connection times out, and a few publishers behind one NAT.
const defaultMaxConnsPerAddr = 8

func (c DoorConfig) withDefaults() DoorConfig {
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = defaultMaxConnsPerAddr
	}
	return c
}

func (c DoorConfig) validate() error {
	var errs []error
	switch {
	case c.RTMPSAddr != "" && (c.TLSCert == "" || c.TLSKey == ""):
		errs = append(errs, errors.New("rtmps_addr: needs tls_cert and tls_key"))
	case c.RTMPSAddr == "" && (c.TLSCert != "" || c.TLSKey != ""):
		errs = append(errs, errors.New("tls_cert, tls_key: set, but rtmps_addr is not"))
	}
	if c.MaxConnsPerAddr < -1 {
		errs = append(errs, fmt.Errorf("max_conns_per_addr %d: must be positive, or -1 for no cap", c.MaxConnsPerAddr))
	}
	return errors.Join(errs...)
}

// doorFlags defines --rtmps-addr, --tls-cert, --tls-key and
// --max-conns-per-addr on fs, and returns what copies those given into c.
func doorFlags(fs *flag.FlagSet) func(c *DoorConfig, set map[string]bool) {
	addr := fs.String("rtmps-addr", "", "RTMPS listen `address`, e.g. :1936, with --tls-cert and --tls-key (default: no RTMPS)")
	cert := fs.String("tls-cert", "", "RTMPS certificate chain, PEM `file` (re-read when it changes)")
	key := fs.String("tls-key", "", "RTMPS private key, PEM `file` (re-read when it changes)")
	perAddr := fs.Int("max-conns-per-addr", 0, "close RTMP and RTMPS connections beyond this many open at once from one address (default 8; -1: no cap)")
	return func(c *DoorConfig, set map[string]bool) {
		for name, p := range map[string]struct{ dst, v *string }{
			"rtmps-addr": {&c.RTMPSAddr, addr}, "tls-cert": {&c.TLSCert, cert}, "tls-key": {&c.TLSKey, key},
		} {
			if set[name] {
				*p.dst = *p.v
			}
		}
		if set["max-conns-per-addr"] {
			c.MaxConnsPerAddr = *perAddr
		}
	}
}

// listenRTMPS opens the RTMPS listener and loads its certificate, or
// returns nil, nil, nil when c has no RTMPS.
func (c DoorConfig) listenRTMPS(log *slog.Logger) (net.Listener, *tls.Config, error) {
	if c.RTMPSAddr == "" {
		return nil, nil, nil
	}
	cert, err := tlsfile.Load(c.TLSCert, c.TLSKey, 0, log)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", c.RTMPSAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("RTMPS listener: %w", err)
	}
	return l, tlsfile.ServerConfig(cert), nil
}
