package bench

import (
	"path/filepath"
	"strconv"

	"github.com/livestream/livestream/codec"
	"github.com/livestream/livestream/pipeline"
)

// ReferenceArgs is the ffmpeg CLI command (without "ffmpeg") that produces
// the same ladder as plan from src: one decode, one output per rendition,
// with the same x264, AAC and HLS settings.
func ReferenceArgs(src, outDir string, cfg pipeline.Config, plan []pipeline.Planned, gop int, audio bool) []string {
	cfg = cfg.WithDefaults()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", src}
	for _, r := range plan {
		dir := filepath.Join(outDir, r.Name)
		args = append(args, "-map", "0:v:0")
		if audio {
			args = append(args, "-map", "0:a:0",
				"-c:a", "aac", "-ar", strconv.Itoa(cfg.AudioSampleRate), "-ac", strconv.Itoa(cfg.AudioChannels),
				"-b:a", strconv.Itoa(int(r.AudioBitrate)))
		}
		args = append(args,
			"-vf", "scale=w="+strconv.Itoa(r.Width)+":h="+strconv.Itoa(r.Height)+":force_original_aspect_ratio=decrease:force_divisible_by=2",
			// The CLI's default for HLS (constant frame rate) repeats the
			// first picture of a source whose first PTS is not 0 (any
			// stream with B-frames): one frame more than the source, and
			// every later one a frame late against it, which costs ~2.5 dB
			// of PSNR in a frame-by-frame comparison. livestream's frame
			// clock keeps the source's pictures; so does passthrough.
			"-fps_mode", "passthrough",
			"-c:v", "libx264", "-preset", cfg.PresetOf(r.Rendition), "-profile:v", cfg.Profile,
			"-crf", strconv.FormatFloat(cfg.CRF, 'f', -1, 64), "-sc_threshold", "0",
			"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop),
			"-b:v", strconv.Itoa(int(r.VideoBitrate)), "-maxrate", strconv.Itoa(int(r.MaxRate)), "-bufsize", strconv.Itoa(int(r.BufSize)),
			"-f", "hls", "-hls_time", strconv.FormatFloat(cfg.SegmentDuration.Seconds(), 'f', -1, 64),
			"-hls_playlist_type", "vod", "-hls_segment_filename", filepath.Join(dir, "%d.ts"),
			filepath.Join(dir, "index.m3u8"))
	}
	return args
}

// ReferenceLiveArgs is ReferenceArgs for a live stream: the source is read
// at its native rate (-re, looped for seconds) as if it arrived over the
// network, and each output is a sliding live playlist.
//
// x264 gets the lookahead, B-frames and constant rate livestream uses for
// live streams, so that both sides do the same work. (Not its sliced
// threads: the CLI keeps its own thread count, frame threads.)
func ReferenceLiveArgs(src, outDir string, seconds float64, cfg pipeline.Config, plan []pipeline.Planned, gop int, audio bool) []string {
	ref := ReferenceArgs(src, outDir, cfg, plan, gop, audio)
	var args []string
	for i := 0; i < len(ref); i++ {
		switch ref[i] {
		case "-c:v":
			args = append(args, LiveX264Args(cfg)...)
		case "-i":
			args = append(args, "-re", "-stream_loop", "-1", "-t", strconv.FormatFloat(seconds, 'f', -1, 64))
		case "-hls_playlist_type": // and its value, "vod"
			args = append(args, "-hls_list_size", strconv.Itoa(cfg.WithDefaults().PlaylistWindow), "-hls_flags", "delete_segments")
			i++
			continue
		}
		args = append(args, ref[i])
	}
	return args
}

// LiveX264Args are the ffmpeg CLI's x264 options for what livestream
// sets on a live encoder beyond the preset: its lookahead, B-frames and
// constant rate (pipeline.Lookahead, pipeline.BFrames).
func LiveX264Args(cfg pipeline.Config) []string {
	return []string{"-rc-lookahead", x264Count(pipeline.Lookahead(cfg, true)),
		"-bf", x264Count(pipeline.BFrames(cfg, true)), "-x264-params", "force-cfr=1"}
}

// x264Count is the CLI's value for a frame count in codec's terms, where
// Disabled is none. (Live counts are never 0, the preset's.)
func x264Count(n int) string {
	if n == codec.Disabled {
		return "0"
	}
	return strconv.Itoa(n)
}
