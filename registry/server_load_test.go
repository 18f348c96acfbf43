package registry

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestServerLoad: a server's load is its CPU share of MaxCPU (of the whole
// machine without one) or its share of MaxStreams, whichever is larger;
// at 1 it is full.
func TestServerLoad(t *testing.T) {
	for _, tc := range []struct {
		info ServerInfo
		want float64
	}{
		{ServerInfo{CPU: 0.5}, 0.5},
		{ServerInfo{CPU: 0.5, MaxCPU: 0.8}, 0.625},
		{ServerInfo{CPU: 0.8, MaxCPU: 0.8}, 1},
		{ServerInfo{CPU: 0.9, MaxCPU: 0.8, Streams: 1, MaxStreams: 4}, 1.125},
		{ServerInfo{CPU: 0.1, MaxCPU: 0.8, Streams: 3, MaxStreams: 4}, 0.75},
		{ServerInfo{CPU: 0.2, Streams: 4, MaxStreams: 4}, 1},
		{ServerInfo{Streams: 9}, 0},
	} {
		if got := tc.info.Load(); got != tc.want {
			t.Errorf("%+v: Load() = %v, want %v", tc.info, got, tc.want)
		}
	}
}

// TestHeartbeatMaxCPU: MaxCPU goes to Redis and back, and a heartbeat
// with a MaxCPU outside 0 to 1 is refused; proxies order servers by load
// relative to it.
func TestHeartbeatMaxCPU(t *testing.T) {
	s, _ := openRedisTemp(t)
	ctx := context.Background()
	info := func(id string, cpu, maxCPU float64) ServerInfo {
		return ServerInfo{ID: id, RTMPAddr: "127.0.0.1:1935", HTTPAddr: "127.0.0.1:8090", CPU: cpu, MaxCPU: maxCPU}
	}
	for _, i := range []ServerInfo{info("busy", 0.5, 0.55), info("calm", 0.6, 0)} {
		if err := s.Heartbeat(ctx, i, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Servers(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("Servers() = %+v, %v", got, err)
	}
	if got[0].ID != "calm" || got[1].ID != "busy" || got[1].MaxCPU != 0.55 || got[1].Load() < 0.9 {
		t.Errorf("Servers() = %+v; want calm (0.6 of 1) before busy (0.5 of 0.55)", got)
	}
	for _, bad := range []float64{-0.1, 1.5} {
		if err := s.Heartbeat(ctx, info("bad", 0.1, bad), time.Second); err == nil || !strings.Contains(err.Error(), "max cpu") {
			t.Errorf("MaxCPU %v: Heartbeat returned %v, want an error naming max cpu", bad, err)
		}
	}
}
