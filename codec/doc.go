// Package codec is the only package that touches FFmpeg (through go-astiav):
// demuxing files, decoding H.264 and AAC, scaling pictures, encoding H.264
// with libx264 and AAC with FFmpeg's native encoder, and converting audio.
//
// Every C allocation has exactly one owner here. Long-lived contexts are
// created by New… (which frees what it allocated if a later step fails) and
// freed by an idempotent Close, called by the goroutine that used them. No
// finalizers. Nothing outside this package sees a C pointer: pictures and
// sample buffers travel as *Frame, an opaque reference that its holder must
// Release, and encoded data leaves as Go-memory media.Packets.
//
// FFmpeg's send/receive state machine (EAGAIN, EOF) never leaves this package:
// Decode, Encode and Flush call emit for every output they produce.
package codec
