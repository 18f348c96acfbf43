package testenv

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"testing"
)

// ProbeResult is what `ffprobe -show_streams -show_format` says of a file.
// Numbers that ffprobe prints as strings (times, rates, counts) stay strings:
// "N/A" and "0/0" mean something there.
type ProbeResult struct {
	Streams []ProbeStream `json:"streams"`
	Format  ProbeFormat   `json:"format"`
}

// ProbeStream is one stream of a ProbeResult.
type ProbeStream struct {
	Index        int    `json:"index"`
	CodecType    string `json:"codec_type"` // "video", "audio"
	CodecName    string `json:"codec_name"` // "h264", "aac"
	Profile      string `json:"profile"`    // "Main", "LC"
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	RFrameRate   string `json:"r_frame_rate"`   // "30/1"
	AvgFrameRate string `json:"avg_frame_rate"` // "30/1"
	StartTime    string `json:"start_time"`     // seconds
	Duration     string `json:"duration"`       // seconds
	SampleRate   string `json:"sample_rate"`    // "48000"
	Channels     int    `json:"channels"`
	NbFrames     string `json:"nb_frames"`
}

// ProbeFormat is the container part of a ProbeResult.
type ProbeFormat struct {
	FormatName string `json:"format_name"` // "hls", "mpegts", "flv"
	Duration   string `json:"duration"`
	StartTime  string `json:"start_time"`
}

// Probe runs ffprobe on path (a file or a playlist) and fails the test if
// ffprobe does.
func Probe(t testing.TB, path string) *ProbeResult {
	t.Helper()
	var r ProbeResult
	ffprobeJSON(t, &r, "-show_streams", "-show_format", path)
	return &r
}

// ProbePacket is one packet as ffprobe lists it.
type ProbePacket struct {
	PTSTime      string `json:"pts_time"`
	DTSTime      string `json:"dts_time"`
	DurationTime string `json:"duration_time"`
	Flags        string `json:"flags"` // "K__" on a keyframe
	Size         string `json:"size"`
}

// ProbePackets lists the packets of one stream of path, without decoding;
// stream is an ffprobe stream specifier ("v:0", "a:0").
func ProbePackets(t testing.TB, path, stream string) []ProbePacket {
	t.Helper()
	var r struct {
		Packets []ProbePacket `json:"packets"`
	}
	ffprobeJSON(t, &r, "-select_streams", stream, "-show_packets",
		"-show_entries", "packet=pts_time,dts_time,duration_time,flags,size", path)
	return r.Packets
}

// ProbeFrame is one decoded frame as ffprobe lists it.
type ProbeFrame struct {
	PictType string `json:"pict_type"` // "I", "P", "B"
	KeyFrame int    `json:"key_frame"` // 1 on a keyframe
	PTSTime  string `json:"pts_time"`
}

// ProbeFrames decodes one stream of path ("v:0") and lists its frames.
func ProbeFrames(t testing.TB, path, stream string) []ProbeFrame {
	t.Helper()
	var r struct {
		Frames []ProbeFrame `json:"frames"`
	}
	ffprobeJSON(t, &r, "-select_streams", stream, "-show_frames",
		"-show_entries", "frame=pict_type,key_frame,pts_time", path)
	return r.Frames
}

func ffprobeJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(NeedTool(t, "ffprobe"), append([]string{"-v", "error", "-of", "json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("ffprobe %v: %v\n%s", args, err, stderr)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ffprobe %v: parse its JSON: %v", args, err)
	}
}

// ProbeDuration is the duration of path's container, by ffprobe.
func ProbeDuration(t testing.TB, path string) float64 {
	t.Helper()
	d, err := strconv.ParseFloat(Probe(t, path).Format.Duration, 64)
	if err != nil {
		t.Fatalf("%s: duration %q: %v", path, Probe(t, path).Format.Duration, err)
	}
	return d
}
