package origin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livestream/livestream/hlsmux"
)

// localSource reads the stores of the streams live on this machine, and
// holds blocking requests on their live edge.
type localSource struct {
	streams Streams
	// blockWait replaces the wait a playlist's target duration gives,
	// when set (tests).
	blockWait time.Duration
}

// read is localSource's liveSource.
func (l localSource) read(ctx context.Context, req liveRequest) (hlsFile, error) {
	store, ok := l.streams.Lookup(req.pid)
	if !ok {
		return hlsFile{}, ErrNotFound
	}
	var edge *hlsmux.Edge
	if es, ok := l.streams.(EdgeStreams); ok {
		edge, _ = es.Edge(req.pid)
	}
	var data []byte
	var err error
	switch {
	case req.file == playlistName:
		data, err = l.playlist(ctx, store, edge, req)
	case req.media.waitable:
		data, err = l.media(ctx, store, edge, req)
	default:
		data, err = get(store, req.name())
	}
	if err != nil {
		return hlsFile{}, err
	}
	return hlsFile{data: data, etag: etag(data)}, nil
}

// get reads name from store, ErrNotFound when it holds nothing.
func get(store hlsmux.Store, name string) ([]byte, error) {
	data, err := store.Get(name)
	switch {
	case errors.Is(err, hlsmux.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("read from the stream's store: %w", err)
	}
	return data, nil
}

// playlist reads a rendition's media playlist, or its delta update for
// _HLS_skip (the full playlist when the segmenter writes none: RFC
// 8216bis lets a server answer a skip request with the full playlist).
// With _HLS_msn, on a stream with an edge whose playlist says
// CAN-BLOCK-RELOAD, it first waits until the playlist lists what was
// asked (RFC 8216bis §6.2.5.2). A low-latency playlist gets the other
// renditions' reports.
func (l localSource) playlist(ctx context.Context, store hlsmux.Store, edge *hlsmux.Edge, req liveRequest) ([]byte, error) {
	read := func() ([]byte, error) {
		if req.block.skip != "" {
			data, err := get(store, req.rendition+"/"+deltaName)
			if !errors.Is(err, ErrNotFound) {
				return data, err
			}
		}
		return get(store, req.name())
	}
	data, err := read()
	if err != nil {
		return nil, err
	}
	if edge == nil {
		return data, nil
	}
	if req.block.blocking && canBlockReload(data) {
		res, err := l.wait(ctx, edge, data, req.rendition, req.block.msn, req.block.part)
		switch {
		case err != nil:
			return nil, err
		case res == hlsmux.TooFar:
			return nil, errTooFar
		}
		// Ready, or Ended: the playlist as it is now.
		if data, err = read(); err != nil {
			return nil, err
		}
	}
	if lowLatency(data) {
		data = withRenditionReports(data, edge.Others(req.rendition))
	}
	return data, nil
}

// media reads an fMP4 segment or part. One the store does not hold yet
// but the live edge will list soon (a preload hint names the next part
// before it is written) is waited for, as RFC 8216bis §6.2.6 has a
// server hold such a request; one that will not come (the stream ended,
// or it is too far ahead of the playlist) is 404.
func (l localSource) media(ctx context.Context, store hlsmux.Store, edge *hlsmux.Edge, req liveRequest) ([]byte, error) {
	data, err := get(store, req.name())
	if !errors.Is(err, ErrNotFound) || edge == nil {
		return data, err
	}
	// Only renditions that have a playlist saying the server holds
	// requests are waited on: a made-up rendition is 404 at once.
	playlist, err := get(store, req.rendition+"/"+playlistName)
	if err != nil || !canBlockReload(playlist) {
		return nil, ErrNotFound
	}
	res, err := l.wait(ctx, edge, playlist, req.rendition, req.media.seq, req.media.part)
	switch {
	case err != nil:
		return nil, err
	case res != hlsmux.Ready:
		return nil, ErrNotFound
	}
	return get(store, req.name())
}

// errBlockTimeout is a blocking request that waited its whole deadline:
// the live edge did not move (the stream stalls).
var errBlockTimeout = fmt.Errorf("%w: the playlist did not list the part in time", errUnavailable)

// wait waits on edge until rendition lists part of segment msn (part -1:
// the whole segment), for three of playlist's target durations.
func (l localSource) wait(ctx context.Context, edge *hlsmux.Edge, playlist []byte, rendition string, msn int64, part int) (hlsmux.WaitResult, error) {
	d := l.blockWait
	if d <= 0 {
		d = blockWait(playlist)
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res, err := edge.Wait(wctx, rendition, msn, part)
	switch {
	case ctx.Err() != nil:
		return res, ctx.Err()
	case err != nil:
		return res, errBlockTimeout
	}
	return res, nil
}
