package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// flvTag is one tag of an FLV file: its type, its timestamp (the DTS for
// video, in milliseconds) and its body as the file holds it.
type flvTag struct {
	Type byte // flvAudio, flvVideo or flvScript
	Time uint32
	Body []byte
}

// FLV tag types (FLV v10.1, E.4.1).
const (
	flvAudio  = 8
	flvVideo  = 9
	flvScript = 18
)

// parseFLV splits an FLV file into its tags: a 9-byte header and
// PreviousTagSize0, then each tag as type(1) size(3) timestamp(3)
// extension(1) stream id(3), its body, and its PreviousTagSize(4).
func parseFLV(b []byte) ([]flvTag, error) {
	if len(b) < 13 || string(b[:3]) != "FLV" {
		return nil, errors.New("not an FLV file")
	}
	off := int(binary.BigEndian.Uint32(b[5:9])) + 4
	var tags []flvTag
	for off < len(b) {
		if len(b)-off < 11 {
			return nil, fmt.Errorf("tag header at byte %d: %d bytes left", off, len(b)-off)
		}
		h := b[off : off+11]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[7])<<24 | uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
		if len(b)-off < 11+size+4 {
			return nil, fmt.Errorf("tag at byte %d: body of %d bytes runs past the end", off, size)
		}
		tags = append(tags, flvTag{Type: h[0] & 0x1f, Time: ts, Body: b[off+11 : off+11+size]})
		off += 11 + size + 4
	}
	return tags, nil
}

// isSequenceHeader reports whether t is an AVC or AAC sequence header,
// which publishers send at timestamp 0 and the jitter leaves alone.
func (t flvTag) isSequenceHeader() bool {
	switch t.Type {
	case flvVideo:
		return len(t.Body) >= 2 && t.Body[0]&0x0f == 7 && t.Body[1] == 0
	case flvAudio:
		return len(t.Body) >= 2 && t.Body[0]>>4 == 10 && t.Body[1] == 0
	}
	return false
}

// isVideoFrame reports whether t is an AVC NALU tag (a coded frame).
func (t flvTag) isVideoFrame() bool {
	return t.Type == flvVideo && len(t.Body) >= 5 && t.Body[0]&0x0f == 7 && t.Body[1] == 1
}

// jitterStats says what jitterTimestamps did, so the test can check its
// own input before blaming the server.
type jitterStats struct {
	videoFrames, audioFrames int
	moved                    int // tags whose timestamp moved by ±1 ms
	repeats                  int // video tags at the previous video tag's timestamp
	stepsBack                int // video tags 1 ms before the previous video tag
}

// Where jitterTimestamps makes the video's timestamps misbehave, counting
// video frames from 1: every jitterRepeatEvery-th frame repeats the
// previous one's DTS, and the frames of jitterStepsBack (none next to a
// repeat) step 1 ms back from it.
const jitterRepeatEvery = 15

var jitterStepsBack = map[int]bool{101: true, 202: true, 307: true}

// jitterTimestamps rewrites the tag timestamps (the DTS; the composition
// offsets inside the AVC bodies stay, so each PTS moves with its DTS) the
// way a sloppy publisher sends them: every audio and video frame ±1 ms
// (a fixed pattern from seed), every jitterRepeatEvery-th video frame at
// the previous video frame's timestamp, and the video stepping back 1 ms
// at jitterStepsBack. Sequence headers and metadata keep theirs.
func jitterTimestamps(tags []flvTag, seed uint64) ([]flvTag, jitterStats) {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]flvTag, len(tags))
	var st jitterStats
	var prevVideo uint32
	for i, tag := range tags {
		out[i] = tag
		switch {
		case tag.isSequenceHeader() || tag.Type == flvScript:
		case tag.isVideoFrame():
			st.videoFrames++
			n := st.videoFrames
			switch {
			case n > 1 && n%jitterRepeatEvery == 0:
				out[i].Time = prevVideo
				st.repeats++
			case jitterStepsBack[n] && prevVideo > 0:
				out[i].Time = prevVideo - 1
				st.stepsBack++
			default:
				out[i].Time = jitter(tag.Time, rng)
				if out[i].Time != tag.Time {
					st.moved++
				}
			}
			prevVideo = out[i].Time
		case tag.Type == flvAudio:
			st.audioFrames++
			out[i].Time = jitter(tag.Time, rng)
			if out[i].Time != tag.Time {
				st.moved++
			}
		}
	}
	return out, st
}

// jitter moves ts by -1, 0 or +1 ms, never below 0.
func jitter(ts uint32, rng *rand.Rand) uint32 {
	d := rng.IntN(3) - 1
	if d < 0 && ts == 0 {
		return 0
	}
	return uint32(int64(ts) + int64(d))
}

// makeTestFLV encodes seconds of a test pattern at fps, H.264 with two
// B-frames and a GOP of 2 s, and AAC, to an FLV file in dir, as fast as
// ffmpeg can.
func makeTestFLV(dir string, fps, seconds int) ([]byte, error) {
	path := dir + "/source.flv"
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", publishWidth, publishHeight, fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", strconv.Itoa(2*fps), "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ac", "2", "-f", "flv", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return os.ReadFile(path)
}

// publishTags publishes tags to rtmp://addr/stream/key with go-rtmp's
// client, each at its own timestamp as it is, paced in real time by the
// latest timestamp sent so far, then deletes the stream and closes the
// connection. Nothing between the tags and the wire repairs a timestamp.
func publishTags(ctx context.Context, addr, key string, tags []flvTag) error {
	quiet := logrus.New()
	quiet.Out = io.Discard
	cc, err := rtmp.Dial("rtmp", addr, &rtmp.ConnConfig{Logger: quiet})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer cc.Close()
	err = cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{
		App: "stream", Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; timing test)", TCURL: "rtmp://" + addr + "/stream",
	}})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	stream, err := cc.CreateStream(nil, 4096)
	if err != nil {
		return fmt.Errorf("createStream: %w", err)
	}
	if err := stream.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// The chunk stream ids OBS and ffmpeg use.
	const csidAudio, csidData, csidVideo = 4, 5, 6
	start := time.Now()
	var latest uint32
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i, tag := range tags {
		latest = max(latest, tag.Time)
		if wait := time.Until(start.Add(time.Duration(latest) * time.Millisecond)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var msg message.Message
		csid := csidVideo
		switch tag.Type {
		case flvVideo:
			msg = &message.VideoMessage{Payload: bytes.NewReader(tag.Body)}
		case flvAudio:
			msg, csid = &message.AudioMessage{Payload: bytes.NewReader(tag.Body)}, csidAudio
		case flvScript:
			// The body is the AMF0 string "onMetaData" and its array: sent
			// as @setDataFrame, as OBS and ffmpeg do.
			msg, csid = &message.DataMessage{Name: "@setDataFrame", Encoding: message.EncodingTypeAMF0, Body: bytes.NewReader(tag.Body)}, csidData
		default:
			continue
		}
		if err := cc.LastError(); err != nil {
			return fmt.Errorf("tag %d of %d (%d ms): connection lost: %w", i, len(tags), tag.Time, err)
		}
		if err := stream.Write(csid, tag.Time, msg); err != nil {
			return fmt.Errorf("tag %d of %d (%d ms): %w", i, len(tags), tag.Time, err)
		}
	}
	if err := cc.DeleteStream(&message.NetStreamDeleteStream{StreamID: stream.StreamID()}); err != nil {
		return fmt.Errorf("deleteStream: %w", err)
	}
	return nil
}
