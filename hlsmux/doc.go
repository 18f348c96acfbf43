// Package hlsmux turns encoded packets into HLS (RFC 8216): a Segmenter that
// writes one rendition as MPEG-TS segments (through go-astits) cut on
// keyframes, with its live, event or VOD media playlist; the master playlist
// (EncodeMaster); and the Store they are written to (MemoryStore, DirStore).
//
// It owns the TS and playlist formats, segment naming and numbering, and the
// deletion of live segments once they have left the window and their grace
// period is over. It must not decode or encode (packets come encoded, H.264
// in Annex B and raw AAC), start goroutines or timers (time only advances
// when packets are written, through SegmenterConfig.Now), or know about
// streams, keys, HTTP or object storage: callers hand it packets and a
// Store, and read what it wrote from the Store. It imports media only.
//
// A Segmenter belongs to one goroutine. The stores are safe for concurrent
// use, and Put replaces a name atomically, so an origin can serve from the
// store while a segmenter writes to it.
package hlsmux
