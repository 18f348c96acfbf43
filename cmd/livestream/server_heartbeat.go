package main

import (
	"context"
	"log/slog"
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
	// cpu is the CPU share the server refuses publishes by: proxies see
	// the same figure.
	cpu *cpuGauge
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
		MaxStreams: h.cfg.MaxStreams, CPU: h.cpu.Share(), MaxCPU: h.cfg.MaxCPU,
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
