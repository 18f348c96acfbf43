package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// roundTrips splits a window's commands into network round trips by who
// sent them. Redis's commandstats also counts the commands a script runs
// (claimRoute's GET and SET, once per EVALSHA), and a MULTI … EXEC
// pipeline is one round trip of several commands; the windows hold no
// other script and no refused claim (one server, one stream), so:
type roundTrips struct {
	// heartbeats are the server's MULTI SET SADD EXEC: one per EXEC.
	heartbeats int64
	// routes are the server's SetRoute: one EVALSHA (EVAL the first time).
	routes int64
	// lookups are the origin's Route: its GETs, the script's left out.
	lookups int64
	// pings are go-redis's health checks of the pub/sub connections of
	// both processes (every 3 s while no message arrives).
	pings int64
	// other lists any other command: none is expected.
	other commandStats
}

func splitRoundTrips(c commandStats) roundTrips {
	scripts := c["evalsha"] + c["eval"]
	rt := roundTrips{heartbeats: c["exec"], routes: scripts, lookups: c["get"] - scripts, pings: c["ping"], other: commandStats{}}
	for name, n := range c {
		switch name {
		case "multi", "exec", "sadd", "set", "evalsha", "eval", "get", "ping":
		default:
			rt.other[name] = n
		}
	}
	// The commands a heartbeat and a claim send or run.
	if c["multi"] != c["exec"] || c["sadd"] != c["exec"] || c["set"] != c["exec"]+scripts || rt.lookups < 0 {
		rt.other["unexplained(multi,sadd,set,get)"] = 1
	}
	return rt
}

func (rt roundTrips) server() int64 { return rt.heartbeats + rt.routes }

// figures are one run's results, as the report names them.
type figures struct {
	idleCommands, streamCommands float64 // Redis's count, /s
	idleServerRT, streamServerRT float64 // the server's round trips, /s
	pingRate                     float64
	segmentSeconds               float64
	// Per segment of the ladder (every rendition cuts one at a time).
	commandsPerSegment, serverRTPerSegment float64
	viewerRate                             float64 // viewer requests/s
	// Per viewer request: the origin's GETs; without the route cache, one
	// per upstream fetch (an upper bound: concurrent fills share a lookup).
	perRequest, perRequestNoRouteCache float64
	lookupRate                         float64 // the origin's GETs/s while viewers watch
	lookupsMatch                       bool    // the origin's GETs equal its route lookups metric
	streamLookups                      float64
	failedShare                        float64
	other                              commandStats
}

func (r result) figures() figures {
	idle, stream, watch := splitRoundTrips(r.idle.commands), splitRoundTrips(r.stream.commands), splitRoundTrips(r.watch.commands)
	f := figures{
		idleCommands:   r.idle.rate(),
		streamCommands: r.stream.rate(),
		idleServerRT:   float64(idle.server()) / r.idle.seconds,
		streamServerRT: float64(stream.server()) / r.stream.seconds,
		pingRate:       float64(stream.pings) / r.stream.seconds,
		segmentSeconds: r.segmentSeconds,
		viewerRate:     float64(r.watch.requests) / r.watch.seconds,
		streamLookups:  float64(stream.lookups),
		lookupsMatch:   float64(watch.lookups) == r.watch.lookups,
		failedShare:    float64(r.watch.failed) / float64(r.watch.requests),
		other:          commandStats{},
	}
	if r.stream.segments > 0 {
		f.commandsPerSegment = float64(r.stream.commands.total()) / float64(r.stream.segments)
		f.serverRTPerSegment = float64(stream.server()) / float64(r.stream.segments)
	}
	f.perRequest = float64(watch.lookups) / float64(r.watch.requests)
	f.lookupRate = float64(watch.lookups) / r.watch.seconds
	f.perRequestNoRouteCache = r.watch.fetches / float64(r.watch.requests)
	for _, rt := range []roundTrips{idle, stream, watch} {
		for n, c := range rt.other {
			f.other[n] += c
		}
	}
	return f
}

func (r result) print(w io.Writer, name string) {
	f := r.figures()
	watch := splitRoundTrips(r.watch.commands)
	fmt.Fprintf(w, "%s:\n  idle      %5.0f s: %.2f commands/s %s\n  streaming %5.0f s: %.2f commands/s %s; %d segments of %.0f s\n  viewers   %5.0f s: %.0f requests/s (%d failed), %d origin GETs, %.0f route lookups, %.0f upstream fetches %s\n",
		name, r.idle.seconds, f.idleCommands, perSecond(r.idle), r.stream.seconds, f.streamCommands, perSecond(r.stream), r.stream.segments, r.segmentSeconds,
		r.watch.seconds, f.viewerRate, r.watch.failed, watch.lookups, r.watch.lookups, r.watch.fetches, perSecond(r.watch))
	if !f.lookupsMatch {
		fmt.Fprintf(w, "  warning: the origin's GETs (%d) differ from its route lookups metric (%.0f)\n", watch.lookups, r.watch.lookups)
	}
	if len(f.other) > 0 {
		fmt.Fprintf(w, "  warning: commands not accounted for: %v\n", f.other)
	}
}

// perSecond lists a window's commands by cmdstat name, in calls/s.
func perSecond(w window) string {
	var b strings.Builder
	b.WriteString("[")
	for i, n := range slices.Sorted(maps.Keys(w.commands)) {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %.2f", n, float64(w.commands[n])/w.seconds)
	}
	b.WriteString("]")
	return b.String()
}

func median(rs []result, f func(figures) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r.figures())
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func report(w io.Writer, o options, rs []result) {
	m := func(f func(figures) float64) float64 { return median(rs, f) }
	config := "the default ladder, 2 s segments"
	if o.config != "" {
		config = o.config
	}
	fmt.Fprintf(w, "\nmedians of %d runs: 1 server (%s), 1 origin, 1 stream %dx%d, %d viewers; windows: idle %v, streaming %v, viewers %v\n",
		len(rs), config, o.width, o.height, o.viewers, o.idle, o.stream, o.watch)
	fmt.Fprintf(w, "| figure | value |\n| --- | --- |\n")
	row := func(name, format string, f func(figures) float64) {
		fmt.Fprintf(w, "| %s | "+format+" |\n", name, m(f))
	}
	row("Redis commands/s, idle (server + origin, as commandstats counts)", "%.2f", func(f figures) float64 { return f.idleCommands })
	row("Redis commands/s, streaming 1 stream, no viewer", "%.2f", func(f figures) float64 { return f.streamCommands })
	row("server round trips/s, idle (heartbeat: MULTI SET SADD EXEC)", "%.2f", func(f figures) float64 { return f.idleServerRT })
	row("server round trips/s, streaming (heartbeat + route refresh: EVALSHA)", "%.2f", func(f figures) float64 { return f.streamServerRT })
	row("pub/sub health-check PINGs/s (server + origin)", "%.2f", func(f figures) float64 { return f.pingRate })
	row(fmt.Sprintf("server round trips per %.0f s segment", rs[0].segmentSeconds), "%.2f", func(f figures) float64 { return f.serverRTPerSegment })
	row(fmt.Sprintf("Redis commands per %.0f s segment (all, pings and script GET/SET included)", rs[0].segmentSeconds), "%.2f", func(f figures) float64 { return f.commandsPerSegment })
	row("viewer requests/s through the origin", "%.0f", func(f figures) float64 { return f.viewerRate })
	row("origin round trips (GET)/s, one stream, while viewers watch", "%.2f", func(f figures) float64 { return f.lookupRate })
	row("origin round trips (GET) per viewer request, route cache 1 s", "%.4f", func(f figures) float64 { return f.perRequest })
	row("origin round trips per viewer request without the route cache (≤ 1 GET per upstream fetch)", "%.4f", func(f figures) float64 { return f.perRequestNoRouteCache })
	fmt.Fprintf(w, "| origin round trips per viewer request without any cache | 1 |\n")
	row("origin GETs while no viewer watched", "%.0f", func(f figures) float64 { return f.streamLookups })
	row("failed viewer requests (%)", "%.2f", func(f figures) float64 { return 100 * f.failedShare })
	for i, r := range rs {
		if !r.figures().lookupsMatch {
			fmt.Fprintf(w, "run %d: the origin's GETs and its route lookups metric differ\n", i+1)
		}
	}
}
