// Package record stores every live stream as an HLS recording, in a
// directory or an S3 bucket, and loses nothing on the way: a Session writes
// each segment to a local spool (fsynced) before it returns, and uploads it
// from there in the background, retrying with backoff while the storage is
// unreachable; what a crash leaves in the spool is uploaded by the next
// Recorder, which completes the session's VOD playlist.
//
// Layout in the Backend (names are relative to the directory or to the
// bucket's prefix):
//
//	<playback id>/vod-<session id>.m3u8                   the recording's playlist
//	<playback id>/<session id>/<rendition>/<seq>.ts       its segments, MPEG-TS
//	<playback id>/<session id>/<rendition>/<seq>.m4s      or fMP4 (CMAF)
//	<playback id>/<session id>/<rendition>/init-<seq>.mp4 an fMP4 init section, once
//	<playback id>/<session id>/session.json               what Sessions reports
//
// A recording is in the format the live stream is (pipeline.HLSConfig):
// segments keep the name the live rendition gives them, and an fMP4 init
// section keeps its name too, "init-<seq>.mp4" after the first segment
// that uses it; the caller hands each one to Session.Init before the
// segments that use it. The media playlists write EXT-X-MAP before the
// first segment of each init section (and so are version 6).
//
// With Renditions "top" (the default) only the highest-bandwidth rendition
// is recorded and vod-<session id>.m3u8 is its media playlist, listing
// "<session id>/<rendition>/<seq>.ts" (or .m4s, with
// "<session id>/<rendition>/init-<seq>.mp4" maps). With "all",
// vod-<session id>.m3u8 is a master playlist pointing at
// "<session id>/<rendition>/index.m3u8", one media playlist per rendition,
// whose URIs are relative to it ("<seq>.m4s", "init-<seq>.mp4"). While the
// stream is live a media playlist is EXT-X-PLAYLIST-TYPE:EVENT and lists
// only segments already in the backend (after their init section), in
// order with no holes; once the session ends and every segment is
// uploaded it becomes EXT-X-PLAYLIST-TYPE:VOD with EXT-X-ENDLIST.
//
// The spool mirrors it: <spool dir>/<playback id>/<session id>/ holds the
// session's manifest.jsonl (see manifest.go) and <rendition>/<seq>.ts (or
// .m4s, and init-<seq>.mp4) for each file not yet uploaded.
//
// A session id is the session's start time in Unix milliseconds, made
// unique per playback id. The package sees playback ids only: a stream key
// must never be handed to it, so none can reach a name, a log or an error.
//
// The package owns the spool, the uploads, the recording's playlists and
// their retention. It must not block its caller on storage: Segment and
// Init each do one synchronous local disk write and nothing else. Of the
// module it imports hlsmux only, for the playlist types and writers.
package record
