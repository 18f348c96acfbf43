package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/media"
)

// File is the graph of a stream fed from a media file (livestream transcode):
// the same stages as a live stream, with a demuxer as the publisher.
type File struct {
	*Graph
	path string
	dmx  *codec.Demuxer
}

// OpenFile opens path and plans its ladder. Close frees it.
func OpenFile(path string, cfg Config, out Output) (*File, error) {
	dmx, err := codec.OpenFile(path)
	if err != nil {
		return nil, err
	}
	g, err := New(cfg, Input{Video: *dmx.Video, Audio: dmx.Audio}, out)
	if err != nil {
		dmx.Close()
		return nil, err
	}
	g.file = true
	return &File{Graph: g, path: path, dmx: dmx}, nil
}

// Run transcodes the whole file. When the file cannot be read to its end
// (truncated, corrupt container), the ladder still gets everything read
// before, ends cleanly, and Run returns the read error.
func (f *File) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	packets := make(chan *media.Packet, 16)
	readErr := make(chan error, 1)
	go func() {
		defer close(packets)
		readErr <- f.feed(ctx, packets)
	}()
	err := f.Graph.Run(ctx, packets)
	cancel()
	rerr := <-readErr
	if err != nil {
		return err
	}
	frames, _ := f.Progress()
	if frames == 0 {
		return fmt.Errorf("%s: no video frame could be decoded (%d corrupt packets): %w", f.path, f.Corrupt(), codec.ErrCorrupt)
	}
	if rerr != nil {
		return rerr
	}
	// A file cut short ends like a whole one; only the duration its
	// container declares tells them apart.
	got := media.Duration(f.lastPTS.Load() - f.firstPTS.Load() + f.frameDuration())
	if want := media.Duration(f.dmx.Duration()); want > 0 && got < want-time.Second {
		return fmt.Errorf("%s ends after %.1f s of the %.1f s it declares: %w", f.path, got.Seconds(), want.Seconds(), ErrTruncated)
	}
	return nil
}

// feed reads the file into out, its timestamps repaired as a live
// publisher's are (media.Timeline): a file with jittery or repeated
// timestamps gives the same clean ladder.
func (f *File) feed(ctx context.Context, out chan<- *media.Packet) error {
	var tl media.Timeline
	for {
		p, err := f.dmx.ReadPacket()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p = tl.Fix(p)
		select {
		case out <- p:
		case <-ctx.Done():
			return nil
		}
	}
}

// Close frees the demuxer. Call it after Run has returned.
func (f *File) Close() { f.dmx.Close() }
