package main

import (
	"context"
	"log/slog"
	"runtime"
	"syscall"
	"time"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/registry"
)

// heartbeat tells the cluster, every third of the route TTL, that this
// server is alive and how loaded it is, for proxies to pick the least
// loaded. The heartbeat expires with the TTL if the server dies.
type heartbeat struct {
	reg     *registry.RedisStore
	streams *live.Manager
	cfg     ClusterConfig
	log     *slog.Logger
	cpu     cpuMeter
}

// run sends heartbeats until ctx is done.
func (h *heartbeat) run(ctx context.Context) {
	tick := time.NewTicker(h.cfg.RouteTTL / 3)
	defer tick.Stop()
	failing := false
	for {
		callCtx, cancel := context.WithTimeout(ctx, h.cfg.RouteTTL/3)
		err := h.reg.Heartbeat(callCtx, h.info(), h.cfg.RouteTTL)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			h.log.Warn("heartbeat not sent: proxies stop sending publishes here once it expires", "err", err)
		case err == nil && failing:
			h.log.Info("heartbeat sent again")
		}
		failing = err != nil
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// info is this server's load now.
func (h *heartbeat) info() registry.ServerInfo {
	info := registry.ServerInfo{
		ID: h.cfg.ServerID, RTMPAddr: h.cfg.AdvertiseRTMPAddr, HTTPAddr: h.cfg.AdvertiseAddr,
		MaxStreams: h.cfg.MaxStreams, CPU: h.cpu.share(time.Now()),
	}
	for _, s := range h.streams.Streams() {
		if !s.Live {
			continue
		}
		info.Streams++
		for _, r := range s.Renditions {
			info.MaxLagSeconds = max(info.MaxLagSeconds, r.LagSeconds)
		}
	}
	return info
}

// cpuMeter measures this process's share of the machine's CPU between two
// calls (transcoding is all of a server's CPU use).
type cpuMeter struct {
	lastAt  time.Time
	lastCPU time.Duration
}

// share returns the CPU share used since the last call, 0 to 1; 0 on the
// first call.
func (m *cpuMeter) share(now time.Time) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	prevAt, prevCPU := m.lastAt, m.lastCPU
	m.lastAt, m.lastCPU = now, used
	if prevAt.IsZero() || !now.After(prevAt) {
		return 0
	}
	s := float64(used-prevCPU) / float64(now.Sub(prevAt)) / float64(runtime.NumCPU())
	return min(max(s, 0), 1)
}
