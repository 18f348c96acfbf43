package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/livestream/livestream/origin"
)

// The stream the files belong to. Names are as a livestream server writes
// them: segment numbers start at the publish time in ms.
const (
	playbackID   = "bench0pid0000001"
	segmentName  = "720p/1764000000000.ts"
	playlistName = "720p/index.m3u8"
	segmentBytes = 1 << 20
)

// writeFiles writes the hot segment (1 MiB of TS null packets' sync
// bytes; the origin never looks inside) and a 6-segment live media
// playlist with a 2 s target under root/hls/<pid>/, as both servers serve
// them.
func writeFiles(root string) (segment, playlist []byte, err error) {
	dir := filepath.Join(root, "hls", playbackID, filepath.Dir(segmentName))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	segment = make([]byte, segmentBytes)
	for i := range segment {
		if i%188 == 0 {
			segment[i] = 0x47
		} else {
			segment[i] = byte(i)
		}
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1763999990000\n")
	for i := range 6 {
		fmt.Fprintf(&b, "#EXTINF:2.000,\n%d.ts\n", 1763999990000+int64(i)*2000)
	}
	playlist = []byte(b.String())
	for name, data := range map[string][]byte{segmentName: segment, playlistName: playlist} {
		if err := os.WriteFile(filepath.Join(root, "hls", playbackID, name), data, 0o644); err != nil {
			return nil, nil, err
		}
	}
	return segment, playlist, nil
}

// ours is origin.NewCluster in this process in front of an upstream that
// stands in for a livestream server: an http.FileServer on 127.0.0.1
// serving root, where /hls/<pid>/… are the files as a server serves them.
type ours struct {
	addr     string // the origin's, for viewers
	cluster  *origin.Cluster
	srv, up  *http.Server
	serveErr chan error

	closeOnce sync.Once
	closeErr  error
}

func startOurs(root string) (*ours, error) {
	upL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the upstream: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		upL.Close()
		return nil, fmt.Errorf("listen for the origin: %w", err)
	}
	upAddr := upL.Addr().String()
	o := &ours{addr: l.Addr().String(), serveErr: make(chan error, 2)}
	o.up = &http.Server{Handler: http.FileServer(http.Dir(root)), ReadHeaderTimeout: 5 * time.Second}
	o.cluster = origin.NewCluster(origin.RouterFunc(func(context.Context, string) (string, error) {
		return upAddr, nil
	}), origin.ClusterOptions{})
	// As the origin role serves: a plain http.Server, keep-alive on.
	o.srv = &http.Server{Handler: o.cluster, ReadHeaderTimeout: 5 * time.Second}
	go func() { o.serveErr <- o.up.Serve(upL) }()
	go func() { o.serveErr <- o.srv.Serve(l) }()
	return o, nil
}

// close stops both servers and the Cluster, and returns what failed. It
// may be called any number of times.
func (o *ours) close() error {
	o.closeOnce.Do(func() { o.closeErr = o.shutdown() })
	return o.closeErr
}

func (o *ours) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := []error{o.srv.Shutdown(ctx), o.cluster.Close(), o.up.Shutdown(ctx)}
	for range 2 {
		if err := <-o.serveErr; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
