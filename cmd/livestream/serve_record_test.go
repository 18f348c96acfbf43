package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/record"
)

// publishSeconds is how long the recording tests publish: six 2-second
// segments.
const publishSeconds = 12

var extinfRe = regexp.MustCompile(`#EXTINF:([0-9.]+),`)

// vodPlaylist checks pl is a finished recording's media playlist and
// returns its segment URIs and their total duration.
func vodPlaylist(t *testing.T, pl []byte) (uris []string, total float64) {
	t.Helper()
	for _, want := range []string{"#EXTM3U", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-ENDLIST"} {
		if !bytes.Contains(pl, []byte(want)) {
			t.Errorf("VOD playlist lacks %s:\n%s", want, pl)
		}
	}
	for _, m := range extinfRe.FindAllSubmatch(pl, -1) {
		d, _ := strconv.ParseFloat(string(m[1]), 64)
		total += d
	}
	for _, line := range strings.Split(string(pl), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			uris = append(uris, line)
		}
	}
	if n := len(extinfRe.FindAllIndex(pl, -1)); n != len(uris) || n == 0 {
		t.Errorf("VOD playlist: %d EXTINF for %d URIs:\n%s", n, len(uris), pl)
	}
	return uris, total
}

// segmentSeq is the number of a segment whose URI is line ("<seq>.ts",
// "<seq>.m4s", after any path), in either HLS format; false for any other
// line.
func segmentSeq(line string) (int64, bool) {
	name := path.Base(line)
	seq, ok := strings.CutSuffix(name, ".ts")
	if !ok {
		seq, ok = strings.CutSuffix(name, ".m4s")
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	return n, ok && err == nil && !strings.HasPrefix(line, "#")
}

// segmentSeqs lists the numbers of the segments a media playlist lists.
func segmentSeqs(pl []byte) []int64 {
	var seqs []int64
	for _, line := range strings.Split(string(pl), "\n") {
		if n, ok := segmentSeq(line); ok {
			seqs = append(seqs, n)
		}
	}
	return seqs
}

// vodInits lists the URIs of a media playlist's EXT-X-MAP tags: its fMP4
// init sections.
func vodInits(pl []byte) []string {
	var uris []string
	for _, line := range strings.Split(string(pl), "\n") {
		if u, ok := strings.CutPrefix(line, `#EXT-X-MAP:URI="`); ok {
			uris = append(uris, strings.TrimSuffix(u, `"`))
		}
	}
	return uris
}

// vodMediaType is the Content-Type /vod/ serves a recording's segment or
// init section with.
func vodMediaType(uri string) string {
	switch path.Ext(uri) {
	case ".m4s":
		return "video/iso.segment"
	case ".mp4":
		return "video/mp4"
	}
	return "video/mp2t"
}

// checkVODInits checks that a VOD playlist of fMP4 segments names its
// init sections, and that /vod/ serves each with its type, for good;
// get returns a /vod/ file's answer, and want, when not nil, the bytes
// it must hold.
func checkVODInits(t *testing.T, pl []byte, uris []string, get func(uri string) (*http.Response, []byte), want func(uri string) []byte) {
	t.Helper()
	inits := vodInits(pl)
	if fmp4 := strings.HasSuffix(uris[0], ".m4s"); fmp4 != (len(inits) > 0) || fmp4 && !bytes.Contains(pl, []byte("#EXT-X-VERSION:6\n")) {
		t.Errorf("VOD playlist of %s segments with init sections %v:\n%s", path.Ext(uris[0]), inits, pl)
	}
	for _, u := range inits {
		resp, body := get(u)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
			len(body) == 0 || want != nil && !bytes.Equal(body, want(u)) {
			t.Errorf("VOD init section %s: %d %v, %d bytes", u, resp.StatusCode, resp.Header, len(body))
		}
	}
}

// recordings lists channel id's recordings through the admin API.
func (s *server) recordings(id string) []Recording {
	s.t.Helper()
	code, body := s.admin("GET", "/api/channels/"+id+"/recordings")
	if code != 200 {
		s.t.Fatalf("GET recordings: %d %s", code, body)
	}
	var list []Recording
	if err := json.Unmarshal(body, &list); err != nil {
		s.t.Fatalf("recordings: %v: %s", err, body)
	}
	return list
}

// TestServeRecordsToDirectory: a publish is recorded into DATA_DIR/recordings
// as it goes (an EVENT playlist at /vod/ while live), and once it ends the
// VOD playlist is served at /vod/, lists every segment, plays in ffprobe
// over HTTP for as long as the publish lasted, and the API and the CLI list
// it as complete. The stream key is in no file name, file, answer or log.
func TestServeRecordsToDirectory(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	s := startServer(t)
	k := s.createChannel("recorded")
	pub := s.publish(k.StreamKey, publishSeconds)

	// While live, the stream's info names its recording session.
	var rec struct {
		Recording *struct {
			Session, State, Playlist string
			Segments                 int64
		} `json:"recording"`
	}
	testenv.WaitFor(t, 20*time.Second, func() bool {
		code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
		return code == 200 && json.Unmarshal(body, &rec) == nil && rec.Recording != nil && rec.Recording.Segments > 0
	}, "the stream's recording with a segment")
	if rec.Recording.State != string(record.StateRecording) || rec.Recording.Playlist != k.PlaybackID+"/vod-"+rec.Recording.Session+".m3u8" {
		t.Errorf("recording while live: %+v", *rec.Recording)
	}
	vod := "/vod/" + rec.Recording.Playlist
	testenv.WaitFor(t, 10*time.Second, func() bool {
		code, pl := s.tryGet(vod)
		return code == 200 && bytes.Contains(pl, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) && !bytes.Contains(pl, []byte("ENDLIST"))
	}, "the EVENT playlist while live")

	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	var list []Recording
	testenv.WaitFor(t, 15*time.Second, func() bool {
		list = s.recordings(k.ChannelID)
		return len(list) == 1 && list[0].State == record.StateComplete
	}, "the recording listed as complete")
	r := list[0]
	if r.ID != rec.Recording.Session || r.URL != vod || r.Segments < publishSeconds/2-1 || r.Dropped != 0 ||
		math.Abs(float64(r.DurationMS)/1000-publishSeconds) > 2.5 || r.Size == 0 {
		t.Errorf("recording: %+v", r)
	}

	// The VOD playlist, as a player gets it.
	resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + vod)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") != "max-age=300" {
		t.Errorf("VOD playlist: %d %v", resp.StatusCode, resp.Header)
	}
	uris, total := vodPlaylist(t, pl)
	if math.Abs(total-publishSeconds) > 2.5 || len(uris) != r.Segments {
		t.Errorf("VOD playlist: %d segments, %.2f s; want %d, %d s ± a segment:\n%s", len(uris), total, r.Segments, publishSeconds, pl)
	}
	segURL := "http://" + s.cfg.Serve.HTTPAddr + "/vod/" + k.PlaybackID + "/" + uris[0]
	resp, err = http.Get(segURL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != vodMediaType(uris[0]) || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("VOD segment %s: %d %v", uris[0], resp.StatusCode, resp.Header)
	}
	checkVODInits(t, pl, uris, func(u string) (*http.Response, []byte) {
		resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + "/vod/" + k.PlaybackID + "/" + u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}, nil)
	if d := testenv.ProbeDuration(t, "http://"+s.cfg.Serve.HTTPAddr+vod); math.Abs(d-publishSeconds) > 2.5 {
		t.Errorf("ffprobe plays the recording for %.2f s, want %d ± a segment", d, publishSeconds)
	}

	// Names that are not a recording's are 404, whatever they try.
	for _, p := range []string{
		"/vod/" + k.PlaybackID + "/vod-x.m3u8",
		"/vod/" + k.PlaybackID + "/vod-" + r.ID + ".m3u8.tmp",
		"/vod/" + k.PlaybackID + "/" + r.ID + "/session.json",
		"/vod/" + k.PlaybackID + "/" + r.ID + "/360p/..%2f..%2fsession.json",
		"/vod/" + k.PlaybackID + "/%2e%2e/vod-" + r.ID + ".m3u8",
		"/vod/" + k.StreamKey + "/vod-" + r.ID + ".m3u8",
		"/vod/" + k.PlaybackID + "/vod-999.m3u8",
	} {
		if code, _ := s.tryGet(p); code != 404 {
			t.Errorf("GET %s: status %d, want 404", p, code)
		}
	}

	// The CLI lists it, from the data directory and through the admin API.
	code, stdout, stderr := runCLI(t, "recordings", "list", k.ChannelID, "--json", "--data-dir", s.cfg.Serve.DataDir)
	var local []Recording
	if code != 0 || json.Unmarshal([]byte(stdout), &local) != nil || len(local) != 1 || local[0].State != record.StateComplete || local[0].URL != vod {
		t.Errorf("recordings list --data-dir: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "recordings", "list", k.ChannelID,
		"--admin-url", "http://"+s.cfg.Serve.AdminAddr, "--admin-token", s.cfg.Serve.AdminToken)
	if code != 0 || !strings.Contains(stdout, r.ID) || !strings.Contains(stdout, "complete") || !strings.Contains(stdout, vod) {
		t.Errorf("recordings list --admin-url: exit %d: %s %s", code, stdout, stderr)
	}

	metrics := s.get("/metrics")
	if !regexp.MustCompile(`(?m)^livestream_record_uploaded_segments_total [1-9]`).Match(metrics) ||
		!bytes.Contains(metrics, []byte(`livestream_record_upload_latency_seconds{quantile="0.99"}`)) {
		t.Errorf("metrics lack the recorder's:\n%s", metrics)
	}

	// The key is nowhere: not in a file name or file of the recordings or
	// the spool, an answer, or a log line.
	for _, dir := range []string{"recordings", "spool"} {
		filepath.WalkDir(filepath.Join(s.cfg.Serve.DataDir, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if strings.Contains(p, k.StreamKey) {
				t.Errorf("a recording's path holds the stream key: %s", p)
			}
			if !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(k.StreamKey)) {
					t.Errorf("%s holds the stream key", p)
				}
			}
			return nil
		})
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	s.mu.Lock()
	traffic := s.traffic.String()
	s.mu.Unlock()
	if strings.Contains(traffic, k.StreamKey) || strings.Contains(s.logs.String(), k.StreamKey) || strings.Contains(stdout, k.StreamKey) {
		t.Error("the stream key appears in an HTTP answer, a log line or the CLI's output")
	}
}

// TestServeRecordOff: --record=false records nothing and serves no /vod/.
func TestServeRecordOff(t *testing.T) {
	off := false
	s := startServerWith(t, func(c *Config) { c.Serve.Record = &off })
	k := s.createChannel("not recorded")
	pub := s.publish(k.StreamKey, 4)
	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	code, body := s.admin("GET", "/api/streams/"+k.PlaybackID)
	if code != 200 || bytes.Contains(body, []byte(`"recording"`)) {
		t.Errorf("stream info of an unrecorded stream: %d %s", code, body)
	}
	if code, body := s.admin("GET", "/api/channels/"+k.ChannelID+"/recordings"); code != 404 || !bytes.Contains(body, []byte("does not record")) {
		t.Errorf("recordings of a server that does not record: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Serve.DataDir, "recordings")); !os.IsNotExist(err) {
		t.Errorf("recordings directory made with --record=false: %v", err)
	}
}

// TestServeRecordConfig: the recording flags, LIVESTREAM_* variables and
// `serve:` keys fill RecordConfig, and bad values fail at start naming the
// key.
func TestServeRecordConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("serve:\n  record: false\n  record_renditions: all\n  s3_bucket: b\n  s3_path_style: true\n  record_retention: 720h\n"), 0o644)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	rc := c.Serve.RecordConfig
	if *rc.Record || rc.RecordRenditions != "all" || rc.S3Bucket != "b" || !rc.S3PathStyle || rc.RecordRetention != 720*time.Hour || rc.SpoolMaxBytes != 2<<30 {
		t.Errorf("from the file: %+v", rc)
	}
	def, _ := loadConfig("")
	if !*def.Serve.Record || def.Serve.RecordRenditions != "top" ||
		def.Serve.recordDir("/d") != "/d/recordings" || def.Serve.spoolDir("/d") != "/d/spool" {
		t.Errorf("defaults: %+v", def.Serve.RecordConfig)
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	apply := recordFlags(fs)
	if err := fs.Parse([]string{"--record-dir", "/r", "--spool-max-bytes", "1000"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LIVESTREAM_RECORD": "false", "LIVESTREAM_SPOOL_MAX_BYTES": "5", "LIVESTREAM_S3_REGION": "eu-west-3"}
	if err := flagsFromEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	rc = def.Serve.RecordConfig
	apply(&rc, setFlags(fs))
	if *rc.Record || rc.RecordDir != "/r" || rc.SpoolMaxBytes != 1000 || rc.S3Region != "eu-west-3" || rc.recordDir("/d") != "/r" {
		t.Errorf("from flags and the environment: %+v", rc)
	}

	for _, c := range []struct{ args, want string }{
		{"--record-renditions some", "record_renditions"},
		{"--s3-prefix p", "need s3_bucket"},
		{"--spool-max-bytes -1", "spool_max_bytes"},
		{"--record-retention -1h", "record_retention"},
	} {
		code, _, stderr := runCLI(t, append([]string{"serve", "--data-dir", dir}, strings.Fields(c.args)...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %s: exit %d: %s", c.args, code, stderr)
		}
	}
}

// TestRecordingsUsage: the recordings command's mistakes are exit 2 with a
// usage, or exit 1 naming what is wrong.
func TestRecordingsUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"recordings"}, 2, "recordings list CHANNEL_ID"},
		{[]string{"recordings", "play", "ch_x"}, 2, `unknown command "play"`},
		{[]string{"recordings", "list"}, 2, "Usage: livestream recordings list CHANNEL_ID"},
		{[]string{"recordings", "list", "ch_x", "--admin-token", "t", "--data-dir", dir}, 1, "--admin-token needs --admin-url"},
		{[]string{"recordings", "list", "ch_x", "--admin-url", "http://127.0.0.1:1"}, 1, "--admin-token"},
		{[]string{"recordings", "list", "ch_x", "--data-dir", dir}, 1, "no such channel"},
		{[]string{"recordings", "list", "ch_x", "--redis-url", "redis://127.0.0.1:1"}, 1, "--redis-url needs --record-dir"},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q: %s%s", c.args, code, c.code, c.want, stdout, stderr)
		}
	}
	if code, stdout, _ := runCLI(t, "recordings", "help"); code != 0 || !strings.Contains(stdout, "LIVESTREAM_RECORD_DIR") {
		t.Errorf("recordings help: exit %d: %s", code, stdout)
	}
}
