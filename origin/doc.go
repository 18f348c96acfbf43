// Package origin serves live HLS to viewers over HTTP: the master playlist,
// each rendition's media playlist and its TS segments, with the cache and
// CORS headers players and CDNs need, and a watch page that plays them with
// a vendored hls.js (static/, embedded; nothing is fetched at run time).
//
// With Options.VOD it also serves the recordings that package record
// writes (to a directory or an S3 bucket, read through a VODSource), at
// /vod/, with the same validation and headers.
//
// In local mode (NewLocal) it reads the files from the hlsmux.Store that the
// stream's pipeline writes to, found through Streams. In a cluster
// (NewCluster) it fetches them from the server holding the stream, found
// through a Router (the registry's live routes), over pooled keep-alive
// connections, and keeps them in a cache bounded by bytes, so that a crowd
// asking for one file costs that server one request. It owns URL layout,
// name validation and response headers. It must not write to a store, know
// about stream keys (a playback id is the only identity it sees), or echo a
// request's path into a response or a log line: a viewer who pasted a
// stream key into a URL must not find it in a log.
package origin
