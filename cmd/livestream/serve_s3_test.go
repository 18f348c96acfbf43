package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livestream/livestream/internal/testenv"
	"github.com/livestream/livestream/record"
)

// The test S3 server's credentials and bucket. The secret must reach no
// log line.
const (
	s3Access = "livestream-test"
	s3Secret = "s3cr3t-n0t-in-logs-0123456789"
	s3Bucket = "recordings"
)

// versitygw is a real S3-compatible server, versitygw with its posix
// backend, on 127.0.0.1 with s3Bucket created. It can be killed and
// started again on the same port and data directory, as an outage of the
// storage would go.
type versitygw struct {
	t         *testing.T
	bin, root string
	addr      string
	// endpoint is the server's URL, the same across restarts.
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// startVersitygw starts versitygw, until the test ends.
func startVersitygw(t *testing.T) *versitygw {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			const install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
			if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
				t.Skipf("versitygw is not installed (LIVESTREAM_ALLOW_SKIP=1); run `%s`", install)
			}
			t.Fatalf("versitygw (the S3 server of the tests) is not installed: run `%s`, or set LIVESTREAM_ALLOW_SKIP=1 to skip", install)
		}
	}
	g := &versitygw{t: t, bin: bin, root: t.TempDir(), addr: testenv.FreeAddr(t)}
	g.endpoint = "http://" + g.addr
	t.Cleanup(g.kill)
	g.start()
	if _, err := s3Client(g.endpoint).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return g
}

// start runs the server on its address and data directory, and returns
// once it listens.
func (g *versitygw) start() {
	g.t.Helper()
	cmd := exec.Command(g.bin, "--access", s3Access, "--secret", s3Secret, "--port", g.addr, "posix", g.root)
	if err := cmd.Start(); err != nil {
		g.t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	g.cmd, g.exited = cmd, exited
	testenv.WaitFor(g.t, 10*time.Second, func() bool {
		select {
		case <-exited:
			g.t.Fatalf("versitygw exited at start (is %s still taken?)", g.addr)
		default:
		}
		c, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "versitygw listening")
}

// kill stops the server with SIGKILL, as a crash or a network cut would,
// and waits for it to exit; it does nothing when the server is not
// running.
func (g *versitygw) kill() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.exited
	g.cmd = nil
}

func s3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3Access, SecretAccessKey: s3Secret}, nil
		}),
	})
}

// TestServeRecordsToS3: with --s3-bucket (credentials from the AWS
// environment variables) a publish is recorded into the bucket; once it
// ends every segment its VOD playlist lists is there, byte for byte what
// the server's /vod/ serves, and the recording plays through /vod/ for as
// long as the publish lasted. The API gives the /vod/ URL and the object's
// s3:// name, and the secret key reaches no log.
func TestServeRecordsToS3(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	endpoint := startVersitygw(t).endpoint
	t.Setenv("AWS_ACCESS_KEY_ID", s3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	s := startServerWith(t, func(c *Config) {
		c.Serve.S3Bucket, c.Serve.S3Prefix, c.Serve.S3Endpoint, c.Serve.S3PathStyle, c.Serve.S3Region =
			s3Bucket, "rec", endpoint, true, "us-east-1"
	})
	k := s.createChannel("recorded to s3")
	const seconds = 8
	pub := s.publish(k.StreamKey, seconds)
	if err := pub.wait(t, 30*time.Second); err != nil {
		t.Fatalf("publisher: %v: %s", err, pub.stderr.String())
	}
	var list []Recording
	testenv.WaitFor(t, 15*time.Second, func() bool {
		list = s.recordings(k.ChannelID)
		return len(list) == 1 && list[0].State == record.StateComplete
	}, "the recording listed as complete")
	r := list[0]
	if want := "/vod/" + r.Playlist; r.URL != want {
		t.Errorf("recording URL %q, want %q", r.URL, want)
	}
	if want := "s3://" + s3Bucket + "/rec/" + r.Playlist; r.Object != want {
		t.Errorf("recording object %q, want %q", r.Object, want)
	}

	// The bucket holds every segment the playlist lists, and /vod/ serves
	// the bucket's bytes.
	b := testS3Backend(t, endpoint)
	ctx := context.Background()
	objs, err := b.List(ctx, k.PlaybackID+"/")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, o := range objs {
		names[o.Name] = true
	}
	stored, err := b.Get(ctx, r.Playlist)
	if err != nil {
		t.Fatalf("VOD playlist not in the bucket: %v (objects %v)", err, names)
	}
	pl := s.get(r.URL)
	if !bytes.Equal(pl, stored) {
		t.Errorf("/vod/ serves a playlist other than the bucket's:\n%s\nwant\n%s", pl, stored)
	}
	uris, total := vodPlaylist(t, pl)
	for _, u := range uris {
		if !names[k.PlaybackID+"/"+u] {
			t.Errorf("segment %s listed but not in the bucket", u)
		}
	}
	if len(uris) != r.Segments || math.Abs(total-seconds) > 2.5 {
		t.Errorf("VOD playlist: %d segments, %.2f s; the API says %d; want %d s ± a segment", len(uris), total, r.Segments, seconds)
	}
	seg, err := b.Get(ctx, k.PlaybackID+"/"+uris[0])
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + "/vod/" + k.PlaybackID + "/" + uris[0])
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(served, seg) || resp.Header.Get("Content-Type") != vodMediaType(uris[0]) ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("/vod/ segment %s: %d %v, %d bytes, want the bucket's %d", uris[0], resp.StatusCode, resp.Header, len(served), len(seg))
	}
	checkVODInits(t, pl, uris, func(u string) (*http.Response, []byte) {
		resp, err := http.Get("http://" + s.cfg.Serve.HTTPAddr + "/vod/" + k.PlaybackID + "/" + u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}, func(u string) []byte {
		data, err := b.Get(ctx, k.PlaybackID+"/"+u)
		if err != nil {
			t.Errorf("init section %s not in the bucket: %v", u, err)
		}
		return data
	})
	if d := testenv.ProbeDuration(t, "http://"+s.cfg.Serve.HTTPAddr+r.URL); math.Abs(d-seconds) > 2.5 {
		t.Errorf("ffprobe plays the recording through /vod/ for %.2f s, want %d ± a segment", d, seconds)
	}
	// Neither the session info nor a missing object is served: 404, not
	// the 503 of a storage failure.
	for _, p := range []string{"/vod/" + k.PlaybackID + "/" + r.ID + "/session.json", "/vod/" + k.PlaybackID + "/vod-999.m3u8"} {
		if code, _ := s.tryGet(p); code != 404 {
			t.Errorf("GET %s with S3: status %d, want 404", p, code)
		}
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	if logs := s.logs.String(); strings.Contains(logs, s3Secret) || strings.Contains(logs, k.StreamKey) {
		t.Error("the S3 secret or the stream key appears in a log line")
	}
}

// testS3Backend reads the test bucket under the prefix "rec", as a tool
// reading the recordings would.
func testS3Backend(t *testing.T, endpoint string) *record.S3Backend {
	t.Helper()
	b, err := record.NewS3Backend(context.Background(), record.S3Config{
		Bucket: s3Bucket, Prefix: "rec", Region: "us-east-1", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: s3Access, SecretAccessKey: s3Secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
