package record

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livestream/livestream/internal/testenv"
)

// TestS3EndToEnd records into a real S3-compatible server, in either
// format, checks the objects' headers, and plays the VOD with ffprobe.
func TestS3EndToEnd(t *testing.T) {
	srv := startS3(t)
	for _, format := range formats {
		t.Run(format, func(t *testing.T) { testS3EndToEnd(t, srv, "pb"+format, format) })
	}
}

func testS3EndToEnd(t *testing.T, srv *s3Server, pid, format string) {
	segs := cutSegments(t, format)
	b := srv.backend()
	var logs testenv.LogBuffer
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: t.TempDir(), Logger: logs.Logger()})
	s, err := r.Start(pid, time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, "720p", testStart, segs, 0)
	s.End()
	waitDone(t, s, 20*time.Second)
	checkVOD(t, b, s.Playlist(), segs)

	// Headers, as a CDN in front of the bucket would see them, under the
	// configured prefix.
	ctx := context.Background()
	prefix := "rec/" + pid + "/1732430000000/"
	heads := []struct{ key, typ, cache string }{
		{"rec/" + pid + "/vod-1732430000000.m3u8", playlistType, vodPlaylistCache},
		{prefix + "session.json", sessionInfoType, sessionInfoCache},
	}
	if format == formatFMP4 {
		heads = append(heads,
			struct{ key, typ, cache string }{prefix + "720p/" + strconv.Itoa(testStart) + ".m4s", "video/iso.segment", segmentCache},
			struct{ key, typ, cache string }{prefix + "720p/init-1.mp4", "video/mp4", segmentCache})
	} else {
		heads = append(heads, struct{ key, typ, cache string }{prefix + "720p/" + strconv.Itoa(testStart) + ".ts", "video/mp2t", segmentCache})
	}
	for _, c := range heads {
		h, err := srv.client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(c.key)})
		if err != nil {
			t.Errorf("head %s: %v", c.key, err)
			continue
		}
		if aws.ToString(h.ContentType) != c.typ || aws.ToString(h.CacheControl) != c.cache {
			t.Errorf("%s: Content-Type %q, Cache-Control %q; want %q, %q", c.key, aws.ToString(h.ContentType), aws.ToString(h.CacheControl), c.typ, c.cache)
		}
	}

	dir := download(t, b, pid+"/")
	checkProbe(t, testenv.Probe(t, filepath.Join(dir, pid, "vod-1732430000000.m3u8")), totalDuration(segs), segs[0].duration)
	list, err := r.Sessions(ctx, pid)
	if err != nil || len(list) != 1 || list[0].State != StateComplete || list[0].Segments != len(segs) {
		t.Errorf("Sessions = %+v, %v", list, err)
	}
	st := r.Stats()
	t.Logf("spool write p50 %v p99 %v; segment to S3 on loopback p50 %v p99 %v", st.SpoolWriteP50, st.SpoolWriteP99, st.UploadP50, st.UploadP99)
	if strings.Contains(logs.String(), s3Secret) {
		t.Error("the S3 secret key is in the logs")
	}
}

// download copies every object under prefix into a new directory, to play
// it from there: the test bucket is private.
func download(t testing.TB, b Backend, prefix string) string {
	t.Helper()
	dir := t.TempDir()
	objs, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data, err := b.Get(context.Background(), o.Name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(o.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestS3Outage stops the S3 server in the middle of a stream and starts it
// again on the same port and data: Segment never waits for it, and in the
// end every segment is in the bucket and the VOD complete.
func TestS3Outage(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t)) // after the server's and the recorder's cleanups
	segs := ffmpegSegments(t)
	srv := startS3(t)
	b := srv.backend()
	var logs testenv.LogBuffer
	r := newTestRecorder(t, Config{Backend: b, SpoolDir: t.TempDir(), Logger: logs.Logger(),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	longest := feed(t, s, "720p", 1, segs[:2], 0)
	testenv.WaitFor(t, 10*time.Second, func() bool { return r.Stats().Uploaded == 2 }, "two segments uploaded")

	const outage = 3 * time.Second
	srv.stop()
	down := time.Now()
	longest = max(longest, feed(t, s, "720p", 3, segs[2:], 200*time.Millisecond))
	testenv.WaitFor(t, 10*time.Second, func() bool { return r.Stats().FailedAttempts > 0 }, "an upload to fail")
	if st := r.Stats(); st.Uploaded != 2 || st.SpoolBytes == 0 {
		t.Errorf("stats during the outage %+v: want 2 uploaded and the rest spooled", st)
	}
	time.Sleep(outage - time.Since(down)) // the outage's length, not synchronisation
	srv.start()
	s.End()
	waitDone(t, s, 20*time.Second)
	checkVOD(t, b, s.Playlist(), segs)
	if longest > time.Second || longest > outage/3 {
		t.Errorf("the longest Segment call took %v, with a %v outage: Segment waited for the storage", longest, outage)
	}
	st := r.Stats()
	t.Logf("longest Segment %v; stats %+v", longest, st)
	if st.Uploaded != int64(len(segs)) || st.SpoolBytes != 0 || st.Dropped != 0 {
		t.Errorf("stats after the outage %+v", st)
	}
	if !strings.Contains(logs.String(), "storage reachable again") || strings.Contains(logs.String(), s3Secret) {
		t.Errorf("logs lack the recovery, or hold the secret key:\n%s", logs.String())
	}
}

// The crash test's child process: RECORD_CRASH_CHILD holds the spool
// directory, the S3 endpoint and the directory of the segments.
const crashChildEnv = "RECORD_CRASH_CHILD"

// crashGateSegments is how many segment uploads the child lets through
// before its storage hangs up, so that the kill finds some segments
// uploaded and the rest in the spool.
const crashGateSegments = 2

// TestS3Crash kills a recording process (a child running this test binary)
// with SIGKILL mid-stream; a new Recorder on its spool uploads what was
// left and completes the VOD with every segment spooled before the kill.
func TestS3Crash(t *testing.T) {
	if env := os.Getenv(crashChildEnv); env != "" {
		crashChild(t, env)
		return
	}
	segs := ffmpegSegments(t)
	srv := startS3(t)
	spool := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestS3Crash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+strings.Join([]string{spool, srv.endpoint(), segmentsDir}, "\n"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	const killAfter = 4
	spooled := 0
	sc := bufio.NewScanner(out)
	for spooled < killAfter && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "spooled "); ok {
			spooled, _ = strconv.Atoi(n)
		}
	}
	if spooled < killAfter {
		t.Fatalf("the child stopped after %d segments: %v", spooled, sc.Err())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed = true

	b := srv.backend()
	playlist := vodName("pb", testStart)
	if data, err := b.Get(context.Background(), playlist); err == nil {
		p := parseTestPlaylist(t, data)
		if p.tags["#EXT-X-PLAYLIST-TYPE"] != "EVENT" || len(p.entries) > crashGateSegments {
			t.Errorf("the crashed session's playlist lists more than the %d uploaded segments, or is not EVENT:\n%s", crashGateSegments, data)
		}
	}

	r := newTestRecorder(t, Config{Backend: b, SpoolDir: spool})
	select {
	case <-r.Recovered():
	case <-time.After(20 * time.Second):
		t.Fatal("the spool was not drained")
	}
	list, err := r.Sessions(context.Background(), "pb")
	if err != nil || len(list) != 1 {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	si := list[0]
	if si.State != StateComplete || !si.Interrupted || si.Segments < spooled || si.Segments > len(segs) {
		t.Fatalf("session %+v: want complete, interrupted, with at least the %d segments spooled", si, spooled)
	}
	checkVOD(t, b, playlist, segs[:si.Segments])
	dir := download(t, b, "pb/")
	checkProbe(t, testenv.Probe(t, filepath.Join(dir, filepath.FromSlash(playlist))), totalDuration(segs[:si.Segments]), segs[0].duration)
	checkSpoolEmpty(t, spool)
	t.Logf("killed after %d segments spooled (%d uploaded); the recovered VOD has %d", spooled, crashGateSegments, si.Segments)
}

// crashChild records the segments into S3, whose segment uploads stop
// after crashGateSegments, printing "spooled N" as each Segment returns,
// until it is killed.
func crashChild(t *testing.T, env string) {
	args := strings.Split(env, "\n")
	if len(args) != 3 {
		t.Fatalf("%s: %q", crashChildEnv, env)
	}
	spool, endpoint, segDir := args[0], args[1], args[2]
	segmentsDir = segDir
	segs := ffmpegSegments(t)
	s3b, err := NewS3Backend(context.Background(), S3Config{Bucket: s3Bucket, Prefix: "rec", Endpoint: endpoint,
		PathStyle: true, AccessKeyID: s3Access, SecretAccessKey: s3Secret})
	if err != nil {
		t.Fatal(err)
	}
	gate := newGatedBackend(s3b)
	gate.segmentsLeft = crashGateSegments
	r, err := New(Config{Backend: gate, SpoolDir: spool, Logger: slog.New(slog.DiscardHandler),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start("pb", time.UnixMilli(testStart), testVariants)
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		feed(t, s, "720p", int64(1+i), segs[i:i+1], 0)
		fmt.Printf("spooled %d\n", i+1)
		time.Sleep(100 * time.Millisecond) // a live stream's pace
	}
	select {} // until killed
}
