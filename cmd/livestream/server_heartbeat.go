package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/registry"
)

// heartbeatRetry is how soon a heartbeat that could not be sent is sent
// again (when sooner than the usual third of the TTL): proxies see the
// server again within about a second of Redis coming back.
const heartbeatRetry = time.Second

// heartbeat tells the cluster, every third of the route TTL, that this
// server is alive and how loaded it is, for proxies to pick the least
// loaded. The heartbeat expires with the TTL if the server dies. A
// heartbeat that fails is logged once and retried every heartbeatRetry;
// it never stops the server's streams.
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
	every := h.cfg.RouteTTL / 3
	var failingSince time.Time
	for {
		callCtx, cancel := context.WithTimeout(ctx, every)
		err := h.reg.Heartbeat(callCtx, h.info(), h.cfg.RouteTTL)
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := every
		switch {
		case err != nil && failingSince.IsZero():
			failingSince = time.Now()
			h.log.Warn("heartbeat not sent: proxies stop sending publishes here once it expires; retrying", "err", err, "retry_in", min(every, heartbeatRetry))
		case err == nil && !failingSince.IsZero():
			h.log.Info("heartbeat sent again", "failed_for", time.Since(failingSince).Round(time.Millisecond))
			failingSince = time.Time{}
		}
		if err != nil {
			wait = min(every, heartbeatRetry)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
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
