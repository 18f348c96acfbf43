// Package ingest is the RTMP and RTMPS front of a server: it accepts
// publishers (go-rtmp; RTMPS is the same server on a listener whose
// connections it wraps in TLS, conn_tls.go), authenticates their stream
// key, turns their FLV audio and video messages into media.Packets and
// hands each publish to a Handler (the live package) as a Sink.
//
// It owns the RTMP connection's life: the door (server_publish_accept.go: caps on
// open connections, in all and per address, checked before anything is
// allocated, refusals logged by rate), the TLS handshake and its
// deadline, deadlines (go-rtmp sets none), limits on what a peer may send
// before and after it is authenticated, the set of open connections
// (go-rtmp tracks none) and their shutdown, the slowdown of failed
// authentications, and, behind a proxy, the PROXY protocol header that
// says who the publisher is (proxyproto.go). FLV → packet conversion
// (flv*.go) is pure and kept apart from the network (server.go,
// conn*.go).
//
// Other ingest protocols (ingest/srt) come in through AcceptPublish
// (publish_accept.go): the same key check, slowdown of failed keys,
// counters and Handler, and the same holding of packets until the codecs
// are known (publish.go), so that a publish is a publish whatever carried
// it.
//
// It must not transcode, remux or know what happens to a publish after the
// Sink, and it must never log, return or put in a status message a stream
// key: logs name the channel id once it is known, before that at most a
// short hash of the key. Its counters (Stats, stats.go) carry neither a
// key nor an address. It imports media and registry only.
package ingest
