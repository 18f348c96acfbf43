// Package proxy is the RTMP front door of a cluster: it accepts publishers
// and passes each to the least-loaded healthy server of the registry's
// heartbeats, trying the next server when one cannot be reached, refuses
// the publish for want of capacity, hangs up or does not answer.
//
// To fall back after a server has answered, it does the RTMP handshake
// with the publisher itself, reads the publisher's messages up to its
// publish command (keeping their bytes to replay them to the next server)
// and writes the server's messages to the publisher anew, holding back a
// refusal and leaving out the answers the publisher already had from an
// earlier server. Once the publish is accepted, the publisher's bytes are
// spliced as they come (splice(2)); media is never read.
//
// RTMPS publishers (ServeTLS) have their TLS terminated here, and go on
// as RTMP ones: the proxy must read their commands to replay them, and
// the PROXY header already tells the servers who they are.
//
// It owns its door (door.go: caps on open connections, in all and per
// address, before anything is allocated; refusals logged by rate), the
// TLS handshake of RTMPS publishers, the choice of server (the heartbeats
// plus its own placements since), the dial and its fallback, the splice with its half-closes, the
// optional PROXY protocol v2 header towards servers, the set of open
// connections and their shutdown, and its counters.
//
// It must not decode media, keep state beyond its open connections (any
// number of proxies may run behind one address), or ever log a stream key:
// it never reads the publishing name (only that a publish was sent), and
// its logs name connections by address and server id only. It imports
// registry only.
package proxy
