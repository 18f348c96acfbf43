package origin

import (
	"strings"
	"sync/atomic"
)

// ClusterStats counts what a Cluster did since it was made, and what its
// cache holds now.
type ClusterStats struct {
	// Fetches is the number of requests made to servers: MasterFetches
	// (live.m3u8), PlaylistFetches (a rendition's index.m3u8, blocking or
	// not) and SegmentFetches (.ts, and fMP4 init sections, segments and
	// parts) added up.
	Fetches, MasterFetches, PlaylistFetches, SegmentFetches int64
	// BlockingFetches counts the fetches the server may hold: blocking
	// playlist requests and fMP4 segments and parts. Viewers waiting for
	// the same part of the same rendition share one.
	BlockingFetches int64
	// FetchErrors counts fetches that got no answer: the server was
	// unreachable, too slow, or sent a body cut short.
	FetchErrors int64
	// RouteLookups counts calls to the Router; the others were answered
	// by the route cache.
	RouteLookups int64
	// StaleRouteUses counts fetches routed by a stale route: the stream's
	// last known server, used while the Router failed. StaleRoutes is the
	// number of such routes now.
	StaleRouteUses int64
	StaleRoutes    int
	// Hits counts requests answered from the cache, Coalesced those that
	// waited for a fetch another request had started.
	Hits, Coalesced int64
	// CacheBytes and CacheEntries are what the cache holds, counted as
	// CacheBytes bounds it; Evictions counts entries dropped to make room.
	CacheBytes   int64
	CacheEntries int
	Evictions    int64
}

// fileKinds, as counted in ClusterStats.
const (
	kindMaster = iota
	kindPlaylist
	kindSegment
	numKinds
)

// kindOf tells a validated name's kind.
func kindOf(name string) int {
	switch {
	case name == masterName:
		return kindMaster
	case strings.HasSuffix(name, ".ts"), strings.HasSuffix(name, ".m4s"), strings.HasSuffix(name, ".mp4"):
		return kindSegment
	default:
		return kindPlaylist
	}
}

type clusterCounters struct {
	fetches         [numKinds]atomic.Int64
	blockingFetches atomic.Int64
	fetchErrors     atomic.Int64
	routeLookups    atomic.Int64
	staleRouteUses  atomic.Int64
	hits            atomic.Int64
	coalesced       atomic.Int64
}

// Stats returns the counters so far and the cache's size.
func (c *Cluster) Stats() ClusterStats {
	s := ClusterStats{
		MasterFetches:   c.stats.fetches[kindMaster].Load(),
		PlaylistFetches: c.stats.fetches[kindPlaylist].Load(),
		SegmentFetches:  c.stats.fetches[kindSegment].Load(),
		BlockingFetches: c.stats.blockingFetches.Load(),
		FetchErrors:     c.stats.fetchErrors.Load(),
		RouteLookups:    c.stats.routeLookups.Load(),
		StaleRouteUses:  c.stats.staleRouteUses.Load(),
		StaleRoutes:     c.routes.stale(),
		Hits:            c.stats.hits.Load(),
		Coalesced:       c.stats.coalesced.Load(),
	}
	s.Fetches = s.MasterFetches + s.PlaylistFetches + s.SegmentFetches
	s.CacheBytes, s.CacheEntries, s.Evictions = c.cache.usage()
	return s
}
