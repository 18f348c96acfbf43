package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/livestream/livestream/bench"
	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/live"
	"github.com/livestream/livestream/pipeline"
)

// runTwitch measures what the Twitch re-encode adds to a live stream: the
// CPU of `livestream serve` with each publish relayed to Twitch (a local
// nginx-rtmp) less its CPU without, against the cost of one 720p x264
// encode at Twitch's settings measured alone by the ffmpeg CLI (the encode
// of the decoded source less the decode). Each side runs three times, in
// ABBA order, and the medians are printed.
func runTwitch(bin, ffmpeg, src, config string, counts []int, seconds, warmup float64) error {
	dir, err := os.MkdirTemp("", "livebench-twitch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ng, err := nginxrtmp.Start(nginxrtmp.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer ng.Stop()
	base := "rtmp://" + ng.Addr + "/" + nginxrtmp.Application
	enc, err := encodeAlone(ffmpeg, src)
	if err != nil {
		return err
	}
	fmt.Printf("source %s, %.0f s publishes; one 720p30 x264 encode at Twitch's settings alone (ffmpeg CLI): %.3f CPU-s per s of video\n",
		filepath.Base(src), seconds, enc)
	fmt.Printf("%-8s %14s %14s %14s %10s %10s %12s %12s\n", "streams", "ladder", "ladder+twitch", "extra/stream", "vs encode", "keeps up", "max lag (s)", "dropped")
	for _, n := range counts {
		var alone, with []float64
		keeps, dropped, maxLag := true, int64(0), 0.0
		for run := range 4 {
			twitch := run == 1 || run == 2 // ABBA
			b := ""
			if twitch {
				b = base
			}
			o, err := runOurs(bin, ffmpeg, src, serveSetup{config: config, twitchBase: b}, n, seconds, warmup)
			if err != nil {
				return err
			}
			if twitch {
				with = append(with, o.cpuPerStream)
				dropped += o.relayDropped
				keeps = keeps && o.keepsUp && o.relaysLive
				maxLag = max(maxLag, o.maxLag)
			} else {
				alone = append(alone, o.cpuPerStream)
			}
		}
		a, w := median(alone), median(with)
		fmt.Printf("%-8d %14.3f %14.3f %14.3f %9.2fx %10v %12.2f %12d\n", n, a, w, w-a, (w-a)/enc, keeps, maxLag, dropped)
	}
	fmt.Println("CPU in CPU-seconds per second of video per stream; medians of 2 runs each, in ABBA order.")
	fmt.Println("keeps up: the ladder's lag stayed under 2 s with no picture dropped and every Twitch relay was live; dropped: the relays' drops, summed over the runs with Twitch.")
	fmt.Printf("Twitch settings: %dx%d, ≤%s fps, %d bit/s, maxrate %d, bufsize %d, keyframe every %v, x264 %s.\n",
		live.TwitchEncode.Width, live.TwitchEncode.Height, live.TwitchEncode.MaxFrameRate, live.TwitchEncode.Bitrate,
		live.TwitchEncode.MaxRate, live.TwitchEncode.BufSize, live.TwitchEncode.KeyframeInterval, live.TwitchEncode.Preset)
	return nil
}

// encodeAlone is the CPU-seconds per second of video of one x264 encode at
// Twitch's settings on one thread: (decode + encode) − decode, each the
// median of three runs of the ffmpeg CLI over the whole source.
func encodeAlone(ffmpeg, src string) (float64, error) {
	t := live.TwitchEncode
	gop := strconv.Itoa(int(t.KeyframeInterval.Seconds() * 30))
	common := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "1", "-i", src, "-an"}
	decode := append(slices.Clone(common), "-f", "null", "-")
	encode := append(slices.Clone(common), "-vf", fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease,fps=30", t.Width, t.Height),
		"-c:v", "libx264", "-preset", t.Preset, "-b:v", strconv.Itoa(t.Bitrate), "-maxrate", strconv.Itoa(t.MaxRate),
		"-bufsize", strconv.Itoa(t.BufSize), "-g", gop, "-keyint_min", gop, "-sc_threshold", "0")
	encode = append(encode, bench.LiveX264Args(pipeline.DefaultConfig())...)
	encode = append(encode, "-threads", "1", "-f", "null", "-")
	var d, e []float64
	for range 3 {
		for i, args := range [][]string{decode, encode} {
			cpu, err := cliCPU(ffmpeg, args)
			if err != nil {
				return 0, err
			}
			if i == 0 {
				d = append(d, cpu)
			} else {
				e = append(e, cpu)
			}
		}
	}
	dur, err := duration(src)
	if err != nil {
		return 0, err
	}
	return (median(e) - median(d)) / dur, nil
}

func cliCPU(bin string, args []string) (float64, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s %v: %w", bin, args, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}

// duration is the source's length in seconds, by ffprobe.
func duration(src string) (float64, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", src).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", src, err)
	}
	return strconv.ParseFloat(string(out[:len(out)-1]), 64)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
