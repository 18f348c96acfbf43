package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
	"github.com/pires/go-proxyproto"
)

// TestServerCapacityFlags: --max-cpu, --proxy-protocol and
// --trusted-proxies are refused with the setting's name when they cannot
// work, before anything is connected to.
func TestServerCapacityFlags(t *testing.T) {
	t.Setenv("LIVESTREAM_REDIS_URL", "")
	url := "--redis-url=redis://127.0.0.1:1/0"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"server", url, "--max-cpu", "1.5"}, "max_cpu"},
		{[]string{"server", url, "--max-cpu", "-0.1"}, "max_cpu"},
		{[]string{"server", url, "--max-cpu", "NaN"}, "max_cpu"},
		{[]string{"server", url, "--trusted-proxies", "10.0.0.0/8"}, "trusted_proxies: only apply with proxy_protocol"},
		{[]string{"server", url, "--proxy-protocol", "--trusted-proxies", "10.0.0.0/33"}, "trusted-proxies"},
		{[]string{"origin", url, "--proxy-protocol"}, "not defined"},
		{[]string{"server", "-h"}, "--max-cpu"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestClusterConfigCapacityKeys: the cluster: section takes max_cpu,
// proxy_protocol and trusted_proxies (a list, or one comma-separated
// string; networks or single addresses).
func TestClusterConfigCapacityKeys(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml    string
		trusted []string
		err     string
	}{
		{"cluster:\n  max_cpu: 0.85\n  proxy_protocol: true\n  trusted_proxies: [10.0.0.0/8, 192.168.1.7, \"fd00::/8\"]\n",
			[]string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8"}, ""},
		{"cluster:\n  max_cpu: 0.85\n  proxy_protocol: true\n  trusted_proxies: \"10.1.2.3/8, 2001:db8::1\"\n",
			[]string{"10.0.0.0/8", "2001:db8::1/128"}, ""},
		{"cluster:\n  proxy_protocol: true\n  trusted_proxies: [10.0.0.0/8, nonsense]\n", nil, "trusted_proxies"},
		{"cluster:\n  max_cpu: 85\n", nil, "max_cpu"},
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want one naming %s", tc.yaml, err, tc.err)
			}
			continue
		}
		got := strings.Split(cfg.Cluster.TrustedProxies.String(), ",")
		if err != nil || cfg.Cluster.MaxCPU != 0.85 || !cfg.Cluster.ProxyProtocol || !slices.Equal(got, tc.trusted) {
			t.Errorf("%q: %+v, %v; want max_cpu 0.85, proxy_protocol and %v", tc.yaml, cfg.Cluster, err, tc.trusted)
		}
	}
}

// headerForwarder is a TCP proxy on 127.0.0.1 that opens each connection
// to target with a PROXY v2 header claiming src, as `livestream proxy
// --proxy-protocol` does.
func headerForwarder(t *testing.T, target string, src *net.TCPAddr) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ResolveTCPAddr("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	header, err := proxyproto.HeaderProxyFromAddrs(2, src, dst).Format()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Go(func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			mu.Lock()
			open = append(open, down, up)
			mu.Unlock()
			wg.Go(func() {
				if _, err := up.Write(header); err == nil {
					io.Copy(up, down)
				}
				up.Close()
				down.Close()
			})
			wg.Go(func() { io.Copy(down, up); down.Close(); up.Close() })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

var refusedFromHeader = regexp.MustCompile(`"msg":"refused publish: [^"]*","component":"ingest","remote":"203\.0\.113\.7:5555"`)

// TestServerProxyProtocolProcess runs `livestream server --max-cpu 0.85`
// with LIVESTREAM_PROXY_PROTOCOL and LIVESTREAM_TRUSTED_PROXIES set:
// its heartbeat in Redis carries max_cpu; a publisher connecting without
// a PROXY header is refused; one through a proxy sending a v2 header is
// logged, and its failed key counted, by the header's address. Neither
// the key nor the proxy's address reaches the log.
func TestServerProxyProtocolProcess(t *testing.T) {
	testenv.NeedTool(t, "ffmpeg")
	url := "redis://" + testenv.StartRedis(t) + "/0"
	dir := t.TempDir()
	bin := filepath.Join(dir, "livestream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "livestream.yaml")
	if err := os.WriteFile(config, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LIVESTREAM_PROXY_PROTOCOL", "true")
	t.Setenv("LIVESTREAM_TRUSTED_PROXIES", "127.0.0.0/8,::1")
	rtmp, internal := testenv.FreeAddr(t), testenv.FreeAddr(t)
	srv := startRole(t, bin, url, "server", internal, "server", "--config", config, "--rtmp-addr", rtmp,
		"--internal-http-addr", internal, "--advertise-addr", internal, "--server-id", "pp-1", "--route-ttl", "1500ms",
		"--max-cpu", "0.85", "--data-dir", filepath.Join(dir, "data"), "--record=false", "--log-format", "json")

	reg, err := registry.OpenRedis(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var info registry.ServerInfo
	testenv.WaitFor(t, 10*time.Second, func() bool {
		s, err := reg.Servers(context.Background())
		if err == nil && len(s) == 1 {
			info = s[0]
		}
		return info.ID == "pp-1"
	}, "the server's heartbeat")
	if info.MaxCPU != 0.85 {
		t.Errorf("heartbeat %+v: want max_cpu 0.85", info)
	}

	const wrongKey = "sk_wrong_proxyproto_0c41d9a7"
	direct := (&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: rtmp}}}).publish(wrongKey, 2)
	if err := direct.wait(t, 20*time.Second); err == nil {
		t.Error("a publish without a PROXY header was taken")
	}
	publisher := &net.TCPAddr{IP: netip.MustParseAddr("203.0.113.7").AsSlice(), Port: 5555}
	via := headerForwarder(t, rtmp, publisher)
	p := (&server{t: t, cfg: Config{Serve: ServeConfig{RTMPAddr: via}}}).publish(wrongKey, 2)
	if err := p.wait(t, 20*time.Second); err == nil || !strings.Contains(p.stderr.String(), "unauthorized") {
		t.Errorf("a wrong key through the proxy: %v, %q; want refused as unauthorized", err, p.stderr.String())
	}
	testenv.WaitFor(t, 5*time.Second, func() bool {
		return refusedFromHeader.MatchString(srv.logs.String())
	}, "the refusal logged with the header's address")
	logs := srv.logs.String()
	if !strings.Contains(logs, "refused connection without a valid PROXY protocol header") {
		t.Errorf("the direct publisher's refusal is not logged:\n%s", logs)
	}
	if strings.Contains(logs, wrongKey) || regexp.MustCompile(`"msg":"refused publish: [^"]*","component":"ingest","remote":"127\.`).MatchString(logs) {
		t.Errorf("the log holds the key, or a refused publish by the proxy's address:\n%s", logs)
	}
}

// FuzzParsePrefixList: a list that parses prints as one that parses to
// the same networks, each masked to its network address.
func FuzzParsePrefixList(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.1.2.3/8, 192.168.1.7", "fd00::/8,2001:db8::1", "", " , ", "10.0.0.0/33",
		"::ffff:10.0.0.1", "10.0.0.1%eth0", "fe80::1%eth0/64", "1.2.3.4/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parsePrefixList(s)
		if err != nil {
			return
		}
		again, err := parsePrefixList(l.String())
		if err != nil || !slices.Equal(again, l) {
			t.Fatalf("%q parsed to %v, printed %q, parsed again to %v, %v", s, l, l.String(), again, err)
		}
		for _, p := range l {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("%q: %v is not a masked network", s, p)
			}
		}
	})
}
