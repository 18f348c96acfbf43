package proxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/registry"
)

// flakyServers is a Config.Servers whose registry can fail or hang.
type flakyServers struct {
	mu      sync.Mutex
	servers []registry.ServerInfo
	err     error
	hang    bool
}

func (f *flakyServers) list(ctx context.Context) ([]registry.ServerInfo, error) {
	f.mu.Lock()
	servers, err, hang := f.servers, f.err, f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return servers, err
}

func (f *flakyServers) set(err error, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.hang = err, hang
}

var errRedisDown = errors.New("list servers: dial tcp 127.0.0.1:6379: connect: connection refused")

// TestServerListFallsBack: while Servers fails, the last list it returned
// is used for LastKnownServers after it was read, and a registry that
// hangs costs staleListTimeout, not the whole connect timeout; with no
// list known, or one too old, the failure stands.
func TestServerListFallsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := registry.ServerInfo{ID: "a", RTMPAddr: "10.0.0.1:1935"}
		f := &flakyServers{servers: []registry.ServerInfo{a}}
		var logs testenv.LogBuffer
		l := &serverList{list: f.list, keep: time.Minute, log: logs.Logger()}
		get := func(wantStale bool, wantErr bool) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), DefaultConnectTimeout)
			defer cancel()
			servers, stale, err := l.get(ctx)
			if (err != nil) != wantErr || stale != wantStale || !wantErr && (len(servers) != 1 || servers[0].ID != "a") {
				t.Errorf("get = %v, stale %v, %v; want stale %v, error %v", servers, stale, err, wantStale, wantErr)
			}
		}

		f.set(errRedisDown, false)
		get(false, true) // nothing known yet
		f.set(nil, false)
		get(false, false)
		f.set(errRedisDown, false)
		get(true, false)
		time.Sleep(30 * time.Second)
		f.set(nil, true)
		start := time.Now()
		get(true, false)
		if d := time.Since(start); d != staleListTimeout {
			t.Errorf("a hanging registry held the publisher %v, want %v", d, staleListTimeout)
		}
		time.Sleep(30 * time.Second)
		f.set(errRedisDown, false)
		get(false, true) // read more than a minute ago
		// Two outages: before any list, and since.
		if n := strings.Count(logs.String(), "server list not read"); n != 2 {
			t.Errorf("the outages were logged %d times, want once each:\n%s", n, logs.String())
		}
	})
}

// TestPublishWithLastKnownServers: with the registry down, a publish
// through the proxy still lands on the server it last listed.
func TestPublishWithLastKnownServers(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 1})
	good := startServer(t, false, false)
	f := &flakyServers{servers: []registry.ServerInfo{good.info("good")}}
	p, addr := startProxy(t, Config{Servers: f.list})
	for i, down := range []bool{false, true} {
		if down {
			f.set(errRedisDown, false)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := publish(ctx, t, src, addr, goodKey)
		cancel()
		if err != nil {
			t.Fatalf("publish %d (registry down %v): %v\n%s", i, down, err, out)
		}
		select {
		case <-good.started:
		default:
			t.Fatalf("publish %d (registry down %v) did not reach the server", i, down)
		}
	}
	testenv.WaitFor(t, 5*time.Second, func() bool { return p.Stats().Active == 0 }, "the connections to end")
	if s := p.Stats(); s.StaleLists != 1 || s.Refused != 0 || s.Conns != 2 {
		t.Errorf("Stats = %+v, want 2 connections, 1 placed on the last known list, none refused", s)
	}
}
