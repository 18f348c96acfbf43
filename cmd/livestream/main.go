// Command livestream is the live-streaming server and its tools.
//
//	livestream serve [--config FILE] [--rtmp-addr :1935] [--http-addr :8080] …
//	livestream server --redis-url URL [--rtmp-addr :1935] [--internal-http-addr :8090] …
//	livestream origin --redis-url URL [--http-addr :8080] [--cache-bytes 512MiB] …
//	livestream proxy --redis-url URL [--rtmp-addr :1935]
//	livestream keys create|list|rotate|revoke|settings|destinations …
//	livestream recordings list CHANNEL_ID [--json]
//	livestream transcode [--config FILE] [--segment-seconds 6] INPUT OUTDIR
//	livestream version
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	// go-rtmp's chunk streamer logs every connection's chunk size change on
	// logrus's standard logger, whatever logger the connection was given:
	// keep that one to warnings (ingest and relay route their own loggers
	// through slog).
	logrus.SetLevel(logrus.WarnLevel)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `livestream: a live-streaming server

Usage:
  livestream serve [--config FILE] [--rtmp-addr :1935] [--http-addr :8080]
                   [--admin-addr 127.0.0.1:8081] [--data-dir ./data]
        run the live-streaming server: RTMP ingest, transcoding, HLS, admin API
  livestream server --redis-url URL [--rtmp-addr :1935] [--internal-http-addr :8090]
                    [--advertise-addr HOST:PORT] [--max-streams N]
        run an ingest and transcoding server of a cluster
  livestream origin --redis-url URL [--http-addr :8080] [--cache-bytes 512MiB]
        run an HTTP front door of a cluster for viewers
  livestream proxy --redis-url URL [--rtmp-addr :1935]
        run an RTMP front door of a cluster: each publish to the least-loaded server
  livestream transcode [--config FILE] [--segment-seconds 6] INPUT OUTDIR
        transcode a media file into the adaptive HLS ladder (OUTDIR/live.m3u8)
  livestream keys create NAME | list | rotate ID | revoke ID | settings ID … | destinations … [--json]
        manage channels, their stream keys, stream settings and relay destinations ("livestream keys help")
  livestream recordings list CHANNEL_ID [--json]
        list a channel's recordings ("livestream recordings help")
  livestream version
        print the version and the FFmpeg and x264 libraries linked in

Run "livestream COMMAND -h" for a command's options.
`

// run executes one command and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "server":
		return runServer(args[1:], stdout, stderr)
	case "origin":
		return runOrigin(args[1:], stdout, stderr)
	case "proxy":
		return runProxy(args[1:], stdout, stderr)
	case "transcode":
		return runTranscode(args[1:], stdout, stderr)
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "recordings":
		return runRecordings(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "livestream: unknown command %q\n\n%s", args[0], usage)
	return 2
}
