// Package testenv holds the test helpers every package shares: free ports on
// 127.0.0.1, the real tools tests drive (the ffmpeg CLI to make sources,
// ffprobe to check outputs, ffmpeg's psnr filter to measure quality),
// waiting for what cannot be awaited, and goroutine and memory checks.
//
// It imports only the standard library and media, and is imported only by
// tests. A missing tool fails the test, because `make test` installs every
// tool (make deps); LIVESTREAM_ALLOW_SKIP=1 turns that into a skip for quick
// local runs on a machine without them.
package testenv
