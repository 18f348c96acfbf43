package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
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
	// RouteTTL is how long a server's routes and heartbeat last unless
	// refreshed (every third of it): origins stop routing to a server that
	// died within it.
	RouteTTL time.Duration `yaml:"route_ttl"`
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
	var ttl time.Duration
	var cache byteSize
	if server {
		fs.StringVar(&internal, "internal-http-addr", "", "listen `address` serving live HLS to origins, /healthz and /metrics (default :8090)")
		fs.StringVar(&advertise, "advertise-addr", "", "`host:port` at which origins reach --internal-http-addr (default: its host, or this machine's name, and port)")
		fs.StringVar(&advertiseRTMP, "advertise-rtmp-addr", "", "`host:port` at which proxies reach --rtmp-addr (default: --advertise-addr's host, --rtmp-addr's port)")
		fs.StringVar(&id, "server-id", "", "this server's `id` in the registry (default --advertise-addr)")
		fs.IntVar(&maxStreams, "max-streams", 0, "refuse publishes beyond this many live streams (default 0: no limit)")
		fs.DurationVar(&ttl, "route-ttl", 0, "lifetime of the live routes and heartbeat unless refreshed (default 10s)")
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
		if set["route-ttl"] {
			c.RouteTTL = ttl
		}
		if set["cache-bytes"] {
			c.CacheBytes = cache
		}
	}
}
