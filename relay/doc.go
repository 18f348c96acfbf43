// Package relay pushes one live stream, as it is (no decode, no encode), to
// an RTMP or RTMPS destination such as YouTube, Facebook or Twitch, and keeps
// it there: it reconnects with backoff until it is closed.
//
// A Relay never slows its caller: WritePacket only queues, and a relay that
// falls behind drops packets up to the next video keyframe and counts them.
// The destination's stream key is a secret: it never appears in a log line,
// a Status or an error; those name the destination as scheme://host only.
//
// The package owns the FLV remux (media.Packet → FLV tag bodies) and the
// connection's lifecycle; it does not choose destinations or read the
// publisher's stream (package live does both).
package relay
