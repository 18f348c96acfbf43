// Package proxy is the RTMP front door of a cluster: it accepts publishers
// and splices each connection, byte for byte, to the least-loaded healthy
// server of the registry's heartbeats, trying the next server when one
// cannot be reached.
//
// It owns the choice of server, the dial and its fallback, the splice with
// its half-closes, the optional PROXY protocol v2 header towards servers,
// the set of open connections and their shutdown, and its counters.
//
// It must not decode RTMP or media, keep state beyond its open connections
// (any number of proxies may run behind one address), or ever log a stream
// key: it never reads one, and logs name connections by address and server
// id only. It imports registry only.
package proxy
