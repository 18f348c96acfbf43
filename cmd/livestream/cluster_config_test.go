package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// TestClusterRoleFlags: the server and origin roles refuse bad settings
// with the setting's name, before connecting to anything.
func TestClusterRoleFlags(t *testing.T) {
	t.Setenv("LIVESTREAM_REDIS_URL", "")
	url := "--redis-url=redis://127.0.0.1:1/0"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"server"}, 2, "--redis-url"},
		{[]string{"origin"}, 2, "--redis-url"},
		{[]string{"server", url, "--route-ttl", "10ms"}, 2, "route_ttl"},
		{[]string{"server", url, "--max-streams", "-1"}, 2, "max_streams"},
		{[]string{"server", url, "--advertise-addr", "nohost"}, 2, "advertise_addr"},
		{[]string{"origin", url, "--cache-bytes", "12XB"}, 2, "size"},
		{[]string{"origin", url, "--max-streams", "3"}, 2, "not defined"},
		{[]string{"server", url, "extra"}, 2, "Usage: livestream server"},
		{[]string{"server", "-h"}, 2, "--internal-http-addr"},
		{[]string{"origin", "-h"}, 2, "--cache-bytes"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if code, stdout, _ := runCLI(t, "help"); code != 0 || !strings.Contains(stdout, "livestream server") || !strings.Contains(stdout, "livestream origin") {
		t.Errorf("the usage text lacks the cluster roles:\n%s", stdout)
	}
}

// TestAdvertised: unset advertise addresses and id come from the
// listeners; set ones are kept.
func TestAdvertised(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name")
	}
	internal := &net.TCPAddr{IP: net.IPv4zero, Port: 8090}
	rtmp := &net.TCPAddr{IP: net.IPv4zero, Port: 1935}
	for _, tc := range []struct {
		in                  ClusterConfig
		advertise, rtmp, id string
	}{
		{ClusterConfig{InternalHTTPAddr: ":8090"}, net.JoinHostPort(host, "8090"), net.JoinHostPort(host, "1935"), net.JoinHostPort(host, "8090")},
		{ClusterConfig{InternalHTTPAddr: "10.0.0.5:8090"}, "10.0.0.5:8090", "10.0.0.5:1935", "10.0.0.5:8090"},
		{ClusterConfig{InternalHTTPAddr: ":8090", AdvertiseAddr: "srv-1.internal:9000", ServerID: "srv-1"}, "srv-1.internal:9000", "srv-1.internal:1935", "srv-1"},
		{ClusterConfig{InternalHTTPAddr: ":8090", AdvertiseAddr: "a:1", AdvertiseRTMPAddr: "b:2"}, "a:1", "b:2", "a:1"},
	} {
		tc.in.RouteTTL = minRouteTTL
		got, err := tc.in.advertised(internal, rtmp)
		if err != nil || got.AdvertiseAddr != tc.advertise || got.AdvertiseRTMPAddr != tc.rtmp || got.ServerID != tc.id {
			t.Errorf("%+v: got %q %q %q, %v; want %q %q %q", tc.in, got.AdvertiseAddr, got.AdvertiseRTMPAddr, got.ServerID, err, tc.advertise, tc.rtmp, tc.id)
		}
	}
}
