// Package origin serves live HLS to viewers over HTTP: the master playlist,
// each rendition's media playlist and its segments (TS, or fMP4 init
// sections, segments and partial segments), with the cache and CORS
// headers players and CDNs need, and a watch page that plays them with a
// vendored hls.js (static/, embedded; nothing is fetched at run time).
//
// It serves low-latency HLS (RFC 8216bis, Apple's LL-HLS) for streams
// whose Streams also implement EdgeStreams: a media playlist request with
// _HLS_msn (and _HLS_part) is held on the stream's hlsmux.Edge until the
// playlist lists that segment or part (blocking playlist reload), for at
// most three target durations (then 503), or answered 400 at once when it
// asks too far ahead; _HLS_skip serves the delta update the segmenter
// writes; a request for a part not written yet, as a preload hint names
// it, is held the same way; and every low-latency playlist gets the other
// renditions' EXT-X-RENDITION-REPORTs at serve time. Blocking answers are
// cacheable by CDNs for one target duration, since their URL names what
// they must list. TS playlists are served as they always were.
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
// asking for one file costs that server one request. Blocking requests
// are forwarded with their directives alone, in canonical form, so that
// any number of viewers waiting for the same part of a rendition cost the
// server one request, which it holds. It owns URL layout, name validation
// and response headers. It must not write to a store, know about stream
// keys (a playback id is the only identity it sees), or echo a request's
// path or query into a response or a log line: a viewer who pasted a
// stream key into a URL must not find it in a log.
package origin
