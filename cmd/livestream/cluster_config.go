package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClusterConfig is the `cluster:` section of the config file: what the
// `server` and `origin` roles add to the `serve:` section, whose listeners,
// data directory, relays, recording and logs they share. The Redis URL is
// serve's redis_url (LIVESTREAM_REDIS_URL).
type ClusterConfig struct {
	// InternalHTTPAddr is where a server serves its live HLS to origins,
	// with /healthz and /metrics. Keep it private to the cluster.
	InternalHTTPAddr string `yaml:"internal_http_addr"`
	// AdvertiseAddr is the "host:port" at which origins reach a server's
	// InternalHTTPAddr, written in its routes and heartbeats. Default: the
	// listener's address when it names a host, else the machine's host
	// name with the listener's port.
	AdvertiseAddr string `yaml:"advertise_addr"`
	// AdvertiseRTMPAddr is the "host:port" at which proxies reach a
	// server's RTMP listener. Default: AdvertiseAddr's host with the RTMP
	// listener's port.
	AdvertiseRTMPAddr string `yaml:"advertise_rtmp_addr"`
	// ServerID names a server in the registry. Default: AdvertiseAddr.
	ServerID string `yaml:"server_id"`
	// MaxStreams is how many live streams a server takes before it
	// refuses publishes, so that a proxy tries another. 0: no limit.
	MaxStreams int `yaml:"max_streams"`
	// MaxCPU is the share of the machine's CPU (all its cores; 0 to 1)
	// used by a server, averaged over 5 s, at which it refuses new
	// publishes as at MaxStreams: the live ones go on. 0: no limit.
	MaxCPU float64 `yaml:"max_cpu"`
	// ProxyProtocol: proxies send, and servers require, a PROXY protocol
	// header (v2) at the start of each RTMP connection, so that servers
	// know the publisher's address (for the auth-failure limit and logs).
	// Set it on both sides.
	ProxyProtocol bool `yaml:"proxy_protocol"`
	// TrustedProxies, with ProxyProtocol, are the networks (CIDR, or one
	// address) a server takes RTMP connections from; others are closed.
	// Empty: any peer.
	TrustedProxies prefixList `yaml:"trusted_proxies"`

	// cpu, when set, is the server's CPU gauge, driven by a test; nil:
	// this process's, from getrusage.
	cpu *cpuGauge
	// RouteTTL is how long a server's routes and heartbeat last unless
	// refreshed (every third of it): origins stop routing to a server that
	// died within it.
	RouteTTL time.Duration `yaml:"route_ttl"`
	// DrainTimeout is how long a stopping server (SIGTERM) waits for its
	// streams to move to the other servers: it leaves the proxies' list,
	// asks each publisher to publish again (Enhanced RTMP's reconnect
	// request, then a disconnect) and waits until they have landed
	// elsewhere; the streams left then end. 0 ends them at once. Default
	// 25s (a Kubernetes or Compose grace of 60 s leaves 30 s to end them).
	DrainTimeout *time.Duration `yaml:"drain_timeout"`
	// CacheBytes bounds an origin's cache of live HLS files.
	CacheBytes byteSize `yaml:"cache_bytes"`
}

func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.InternalHTTPAddr == "" {
		c.InternalHTTPAddr = ":8090"
	}
	if c.RouteTTL == 0 {
		c.RouteTTL = 10 * time.Second
	}
	if c.DrainTimeout == nil {
		d := 25 * time.Second
		c.DrainTimeout = &d
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 512 << 20
	}
	return c
}

// minRouteTTL keeps refreshes (every third of the TTL) from flooding Redis.
const minRouteTTL = 300 * time.Millisecond

func (c ClusterConfig) validate() error {
	if c.RouteTTL < minRouteTTL {
		return fmt.Errorf("route_ttl %v: want at least %v", c.RouteTTL, minRouteTTL)
	}
	if c.MaxStreams < 0 {
		return fmt.Errorf("max_streams %d: must not be negative", c.MaxStreams)
	}
	if !(c.MaxCPU >= 0 && c.MaxCPU <= 1) {
		return fmt.Errorf("max_cpu %v: want a share of the machine, 0 to 1 (0: no limit)", c.MaxCPU)
	}
	if len(c.TrustedProxies) > 0 && !c.ProxyProtocol {
		return errors.New("trusted_proxies: only apply with proxy_protocol")
	}
	if c.CacheBytes < 0 {
		return fmt.Errorf("cache_bytes %d: must not be negative", c.CacheBytes)
	}
	for _, a := range []struct{ field, addr string }{{"advertise_addr", c.AdvertiseAddr}, {"advertise_rtmp_addr", c.AdvertiseRTMPAddr}} {
		if a.addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a.addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s %q: want host:port", a.field, a.addr)
		}
	}
	return nil
}

// advertised fills AdvertiseAddr, AdvertiseRTMPAddr and ServerID from the
// listeners' addresses where they are not set.
func (c ClusterConfig) advertised(internal, rtmp net.Addr) (ClusterConfig, error) {
	if c.AdvertiseAddr == "" {
		host, port, err := net.SplitHostPort(c.InternalHTTPAddr)
		if err != nil {
			return c, fmt.Errorf("internal_http_addr %q: %w", c.InternalHTTPAddr, err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if host, err = os.Hostname(); err != nil {
				return c, fmt.Errorf("advertise_addr: not set, and no host name: %w", err)
			}
		}
		if port == "0" {
			_, port, _ = net.SplitHostPort(internal.String())
		}
		c.AdvertiseAddr = net.JoinHostPort(host, port)
	}
	if c.AdvertiseRTMPAddr == "" {
		host, _, _ := net.SplitHostPort(c.AdvertiseAddr)
		_, port, _ := net.SplitHostPort(rtmp.String())
		c.AdvertiseRTMPAddr = net.JoinHostPort(host, port)
	}
	if c.ServerID == "" {
		c.ServerID = c.AdvertiseAddr
	}
	return c, c.validate()
}

// clusterFlags defines the flags of the cluster section on fs, and returns
// what copies those given into c.
func clusterFlags(fs *flag.FlagSet, server bool) func(c *ClusterConfig, set map[string]bool) {
	var internal, advertise, advertiseRTMP, id string
	var maxStreams int
	var maxCPU float64
	var proxyProtocol bool
	var trusted prefixList
	var ttl, drain time.Duration
	var cache byteSize
	if server {
		fs.StringVar(&internal, "internal-http-addr", "", "listen `address` serving live HLS to origins, /healthz and /metrics (default :8090)")
		fs.StringVar(&advertise, "advertise-addr", "", "`host:port` at which origins reach --internal-http-addr (default: its host, or this machine's name, and port)")
		fs.StringVar(&advertiseRTMP, "advertise-rtmp-addr", "", "`host:port` at which proxies reach --rtmp-addr (default: --advertise-addr's host, --rtmp-addr's port)")
		fs.StringVar(&id, "server-id", "", "this server's `id` in the registry (default --advertise-addr)")
		fs.IntVar(&maxStreams, "max-streams", 0, "refuse publishes beyond this many live streams (default 0: no limit)")
		fs.Float64Var(&maxCPU, "max-cpu", 0, "refuse publishes while this server uses this `fraction` of the machine's CPU (all cores) or more, averaged over 5s, e.g. 0.85 (default 0: no limit)")
		fs.BoolVar(&proxyProtocol, "proxy-protocol", false, "require a PROXY protocol header (v1 or v2) on every RTMP connection, as proxies send with --proxy-protocol")
		fs.Var(&trusted, "trusted-proxies", "with --proxy-protocol, take RTMP connections only from these `networks` (CIDR,CIDR; default: any)")
		fs.DurationVar(&ttl, "route-ttl", 0, "lifetime of the live routes and heartbeat unless refreshed (default 10s)")
		fs.DurationVar(&drain, "drain-timeout", 25*time.Second, "on SIGTERM, how long to wait for the streams to move to other servers (0: end them at once)")
	} else {
		fs.Var(&cache, "cache-bytes", "bound of the cache of live HLS `size` (512MiB, 2GiB, or bytes; default 512MiB)")
	}
	return func(c *ClusterConfig, set map[string]bool) {
		str := func(name string, dst *string, v string) {
			if set[name] {
				*dst = v
			}
		}
		str("internal-http-addr", &c.InternalHTTPAddr, internal)
		str("advertise-addr", &c.AdvertiseAddr, advertise)
		str("advertise-rtmp-addr", &c.AdvertiseRTMPAddr, advertiseRTMP)
		str("server-id", &c.ServerID, id)
		if set["max-streams"] {
			c.MaxStreams = maxStreams
		}
		if set["max-cpu"] {
			c.MaxCPU = maxCPU
		}
		if set["proxy-protocol"] {
			c.ProxyProtocol = proxyProtocol
		}
		if set["trusted-proxies"] {
			c.TrustedProxies = trusted
		}
		if set["route-ttl"] {
			c.RouteTTL = ttl
		}
		if set["drain-timeout"] {
			c.DrainTimeout = &drain
		}
		if set["cache-bytes"] {
			c.CacheBytes = cache
		}
	}
}

// prefixList is a list of networks, given as CIDR ("10.0.0.0/8") or one
// address ("10.0.0.5"): comma-separated in a flag, a YAML list (or one
// comma-separated string) in the config file.
type prefixList []netip.Prefix

func parsePrefixList(s string) (prefixList, error) {
	var l prefixList
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q: want a CIDR network or an IP address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		l = append(l, p.Masked())
	}
	return l, nil
}

func (l *prefixList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, p := range *l {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// Set is flag.Value's: the whole list, comma-separated.
func (l *prefixList) Set(s string) error {
	v, err := parsePrefixList(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// UnmarshalYAML reads a list of networks or one comma-separated string.
func (l *prefixList) UnmarshalYAML(unmarshal func(any) error) error {
	var items []string
	if err := unmarshal(&items); err != nil {
		var one string
		if err := unmarshal(&one); err != nil {
			return errors.New("trusted_proxies: want a list of CIDR networks")
		}
		items = []string{one}
	}
	v, err := parsePrefixList(strings.Join(items, ","))
	if err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	*l = v
	return nil
}
