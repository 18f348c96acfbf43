package testenv

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// ProbeResult is what ffprobe says of a file.
type ProbeResult struct {
	Streams []ProbeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		StartTime  string `json:"start_time"`
	} `json:"format"`
}

// ProbeStream is one stream of a ProbeResult.
type ProbeStream struct {
	Index        int    `json:"index"`
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Profile      string `json:"profile"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	RFrameRate   string `json:"r_frame_rate"`
	AvgFrameRate string `json:"avg_frame_rate"`
	StartTime    string `json:"start_time"`
	Duration     string `json:"duration"`
	SampleRate   string `json:"sample_rate"`
	Channels     int    `json:"channels"`
	NbFrames     string `json:"nb_frames"`
}

// Probe runs ffprobe on path.
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
	Flags        string `json:"flags"`
	Size         string `json:"size"`
}

// ProbePackets lists the packets of one stream ("v:0", "a:0").
func ProbePackets(t testing.TB, path, stream string) []ProbePacket {
	t.Helper()
	var r struct {
		Packets []ProbePacket `json:"packets"`
	}
	ffprobeJSON(t, &r, "-select_streams", stream, "-show_packets", "-show_entries", "packet=pts_time,dts_time,duration_time,flags,size", path)
	return r.Packets
}

// ProbeFrame is one decoded frame as ffprobe lists it.
type ProbeFrame struct {
	KeyFrame int    `json:"key_frame"`
	PictType string `json:"pict_type"`
	PTSTime  string `json:"pts_time"`
}

// ProbeFrames decodes one stream and lists its frames.
func ProbeFrames(t testing.TB, path, stream string) []ProbeFrame {
	t.Helper()
	var r struct {
		Frames []ProbeFrame `json:"frames"`
	}
	ffprobeJSON(t, &r, "-select_streams", stream, "-show_frames", "-show_entries", "frame=key_frame,pict_type,pts_time", path)
	return r.Frames
}

func ffprobeJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	ffprobe := NeedTool(t, "ffprobe")
	cmd := exec.Command(ffprobe, append([]string{"-v", "error", "-of", "json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("ffprobe %v: %v\n%s", args, err, msg)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ffprobe %v: %v", args, err)
	}
}

var psnrAverage = regexp.MustCompile(`PSNR y:[0-9.inf]+ u:[0-9.inf]+ v:[0-9.inf]+ average:([0-9.]+|inf)`)

// PSNR decodes distorted and reference (any input ffmpeg reads, playlists
// included), scales the reference to w×h, aligns both to start at 0, and
// returns the average PSNR over all frames in dB.
func PSNR(t testing.TB, distorted, reference string, w, h int) float64 {
	t.Helper()
	ffmpeg := NeedTool(t, "ffmpeg")
	filter := "[0:v]setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS,scale=" + strconv.Itoa(w) + ":" + strconv.Itoa(h) + ":flags=bicubic[r];[d][r]psnr"
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-i", distorted, "-i", reference, "-lavfi", filter, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg psnr: %v\n%s", err, out)
	}
	m := psnrAverage.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ffmpeg psnr: no average in output:\n%s", out)
	}
	if string(m[1]) == "inf" {
		return 100
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
