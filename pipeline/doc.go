// Package pipeline runs the stage graph of one stream: one video decode and
// one audio decode shared by the whole ladder, one goroutine per rendition
// (scale → x264 → its own segmenter, as plain calls), and one audio goroutine
// that encodes AAC once per distinct bitrate. A stream without video
// (NewAudioOnly) is that audio path alone, feeding one rendition whose
// segments are cut on time.
//
// It owns channel policies, fan-out, backpressure and lifecycle. It never
// touches FFmpeg itself (codec does) and never writes TS or playlists itself
// (hlsmux does).
package pipeline
