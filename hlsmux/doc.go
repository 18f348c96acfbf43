// Package hlsmux turns encoded packets into HLS: an MPEG-TS segmenter
// (go-astits) that cuts on keyframes, live/event/VOD media playlists and the
// master playlist (RFC 8216), and the Store they are written to (memory or a
// directory).
//
// It owns the TS and playlist formats only. It never decodes or encodes, and
// it knows nothing of streams, keys or HTTP: callers give it packets and a
// Store, and read what it wrote from the Store.
package hlsmux
