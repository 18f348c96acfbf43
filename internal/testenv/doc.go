// Package testenv holds test helpers shared by every package: free ports,
// the real tools tests drive (the ffmpeg CLI to make sources, ffprobe to
// check outputs), waiting for events, and goroutine and memory checks.
//
// It imports only the standard library and media. A missing tool fails the
// test (make test installs them); LIVESTREAM_ALLOW_SKIP=1 turns that into a
// skip for quick local runs.
package testenv
