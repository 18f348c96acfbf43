// Package srt is the SRT front of a server: publishers send MPEG-TS over
// SRT (github.com/datarhei/gosrt, pure Go), with their stream key in the
// SRT stream id. Each connection is admitted by ingest.Server.AcceptPublish (the
// same key check, slowdown of failed keys, counters and Handler as RTMP), or
// refused in the SRT handshake with a rejection code the caller shows; its
// TS is demuxed with go-astits and mapped to media.Packets (ts*.go, pure
// and fuzzed) for the same Sink an RTMP publish feeds.
//
// It takes H.264 or HEVC video and AAC (ADTS), MP2 or MP3 audio. It must not log,
// return or put in a rejection a stream key or a stream id (which holds
// one); it serves publishers only (m=request is refused).
package srt
