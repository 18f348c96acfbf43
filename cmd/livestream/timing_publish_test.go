package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

// publishRun publishes until the stream is sent, and returns what the
// publisher printed; ctx's end stops it.
type publishRun func(ctx context.Context) (output string, err error)

// livePublish is a publishRun running on its own goroutine: done is
// closed when it has returned, and err and output are set then.
type livePublish struct {
	done   chan struct{}
	err    error
	output string

	mu             sync.Mutex
	started, ended time.Time
}

// launch runs run once every channel of after is closed, within limit.
// ctx's end stops the wait and the publish.
func launch(ctx context.Context, after []<-chan struct{}, limit time.Duration, run publishRun) *livePublish {
	p := &livePublish{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for _, c := range after {
			select {
			case <-c:
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
		}
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		p.mu.Lock()
		p.started = time.Now()
		p.mu.Unlock()
		out, err := run(ctx)
		p.mu.Lock()
		p.ended = time.Now()
		p.mu.Unlock()
		p.err, p.output = err, out
	}()
	return p
}

// window is when the publisher ran; zero times for not yet.
func (p *livePublish) window() (started, ended time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started, p.ended
}

// runCommand runs a publisher's command line; ctx's end kills it.
func runCommand(name string, args ...string) publishRun {
	return func(ctx context.Context) (string, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
}

// gstreamerPublisher is the bug report's pipeline: live test sources,
// x264enc with two B-frames (veryfast, to spare the CPU), flvmux and
// rtmp2sink, with AAC from voaacenc.
func gstreamerPublisher(t *testing.T, s *server, key string, c timingCase) publishRun {
	gst := testenv.NeedTool(t, "gst-launch-1.0")
	// audiotestsrc sends 1024 samples a buffer at 44.1 kHz.
	audioBuffers := int(math.Ceil(float64(c.seconds) * 44100 / 1024))
	pipeline := fmt.Sprintf("videotestsrc is-live=true num-buffers=%d"+
		" ! video/x-raw,width=%d,height=%d,framerate=%d/1"+
		" ! x264enc bframes=2 speed-preset=veryfast key-int-max=%d"+
		" ! h264parse ! flvmux name=mux streamable=true ! rtmp2sink location=rtmp://%s/stream/%s"+
		" audiotestsrc is-live=true num-buffers=%d ! audioconvert ! voaacenc ! aacparse ! mux.",
		c.fps*c.seconds, publishWidth, publishHeight, c.fps, 2*c.fps, s.cfg.Serve.RTMPAddr, key, audioBuffers)
	return runCommand(gst, append([]string{"-q"}, strings.Fields(pipeline)...)...)
}

// ffmpegPublisher publishes a test pattern with the ffmpeg CLI in real
// time (-re): libx264 with two B-frames and a 2 s GOP, and AAC.
func ffmpegPublisher(t *testing.T, s *server, key string, c timingCase) publishRun {
	rate := strconv.Itoa(c.fps)
	return runCommand(testenv.NeedTool(t, "ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", publishWidth, publishHeight, c.fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(c.seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", strconv.Itoa(2*c.fps), "-r", rate, "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2", "-f", "flv", "rtmp://"+s.cfg.Serve.RTMPAddr+"/stream/"+key)
}

// jitteryPublisher encodes an FLV with ffmpeg, rewrites its timestamps
// (jitterTimestamps) and publishes its tags with go-rtmp's client: ffmpeg
// would repair the timestamps if it sent them.
func jitteryPublisher(t *testing.T, s *server, key string, c timingCase) publishRun {
	testenv.NeedTool(t, "ffmpeg")
	flv, err := makeTestFLV(t.TempDir(), c.fps, c.seconds)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := parseFLV(flv)
	if err != nil {
		t.Fatalf("the FLV ffmpeg wrote: %v", err)
	}
	tags, st := jitterTimestamps(tags, 1)
	// The publisher's own check: the rewrite did what the test claims.
	if st.videoFrames < c.fps*c.seconds-1 || st.repeats < st.videoFrames/jitterRepeatEvery-1 ||
		st.stepsBack != len(jitterStepsBack) || st.moved < (st.videoFrames+st.audioFrames)/3 {
		t.Fatalf("the jittered FLV is not what the test wants: %+v", st)
	}
	t.Logf("jittered FLV: %d video and %d audio frames, %d moved by 1 ms, %d repeated timestamps, %d steps back",
		st.videoFrames, st.audioFrames, st.moved, st.repeats, st.stepsBack)
	return func(ctx context.Context) (string, error) {
		return "", publishTags(ctx, s.cfg.Serve.RTMPAddr, key, tags)
	}
}
