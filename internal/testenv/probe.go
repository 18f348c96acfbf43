package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	NeedTool(t, "ffprobe")
	if err := runFFprobeJSON(v, args...); err != nil {
		t.Fatal(err)
	}
}

// runFFprobeJSON runs ffprobe with args and decodes its JSON into v.
func runFFprobeJSON(v any, args ...string) error {
	out, err := exec.Command("ffprobe", append([]string{"-v", "error", "-of", "json"}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		return fmt.Errorf("ffprobe %v: %v\n%s", args, err, stderr)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("ffprobe %v: parse its JSON: %v", args, err)
	}
	return nil
}

// TSVideoPacket is one video packet of an MPEG-TS file, its timestamps in
// 90 kHz ticks.
type TSVideoPacket struct {
	PTS, DTS int64
	Key      bool
}

// ProbeTSVideo lists the video packets of the MPEG-TS file at path in
// decode order, without decoding. Unlike ProbePackets it gives the
// timestamps as integer ticks, so that a one-tick difference shows, and
// returns an error rather than failing a test, for callers off the test's
// goroutine.
func ProbeTSVideo(path string) ([]TSVideoPacket, error) {
	var r struct {
		Streams []struct {
			TimeBase string `json:"time_base"`
		} `json:"streams"`
		Packets []struct {
			PTS   *int64 `json:"pts"`
			DTS   *int64 `json:"dts"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := runFFprobeJSON(&r, "-select_streams", "v:0", "-show_entries", "stream=time_base:packet=pts,dts,flags", path); err != nil {
		return nil, err
	}
	if len(r.Streams) != 1 || r.Streams[0].TimeBase != "1/90000" {
		return nil, fmt.Errorf("ffprobe %s: video streams %+v, want one with time base 1/90000", filepath.Base(path), r.Streams)
	}
	pkts := make([]TSVideoPacket, 0, len(r.Packets))
	for i, p := range r.Packets {
		if p.PTS == nil || p.DTS == nil {
			return nil, fmt.Errorf("ffprobe %s: video packet %d has no PTS or DTS", filepath.Base(path), i)
		}
		pkts = append(pkts, TSVideoPacket{PTS: *p.PTS, DTS: *p.DTS, Key: strings.Contains(p.Flags, "K")})
	}
	return pkts, nil
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
