package main

import (
	"context"
	"math"
	"net"
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

// startVersitygw runs versitygw (a real S3-compatible server) with its
// posix backend on 127.0.0.1, with s3Bucket created, until the test ends.
// It returns the endpoint URL.
func startVersitygw(t *testing.T) string {
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
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--access", s3Access, "--secret", s3Secret, "--port", addr, "posix", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); <-exited })
	testenv.WaitFor(t, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "versitygw listening")
	endpoint := "http://" + addr
	if _, err := s3Client(endpoint).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return endpoint
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
// ends every segment its VOD playlist lists is there, and the recording,
// fetched from the bucket, plays for as long as the publish lasted. The
// origin serves no /vod/ then, and the secret key reaches no log.
func TestServeRecordsToS3(t *testing.T) {
	testenv.NeedTool(t, "ffprobe")
	endpoint := startVersitygw(t)
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
	if want := "s3://" + s3Bucket + "/rec/" + r.Playlist; r.URL != want {
		t.Errorf("recording URL %q, want %q", r.URL, want)
	}

	// Fetch every object of the recording, as a CDN in front of the
	// bucket would serve them, and play the copy.
	b, err := record.NewS3Backend(context.Background(), record.S3Config{
		Bucket: s3Bucket, Prefix: "rec", Region: "us-east-1", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: s3Access, SecretAccessKey: s3Secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objs, err := b.List(ctx, k.PlaybackID+"/")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := map[string]bool{}
	for _, o := range objs {
		data, err := b.Get(ctx, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(o.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		names[o.Name] = true
	}
	pl, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(r.Playlist)))
	if err != nil {
		t.Fatalf("VOD playlist not in the bucket: %v (objects %v)", err, names)
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
	if d := testenv.ProbeDuration(t, filepath.Join(dir, filepath.FromSlash(r.Playlist))); math.Abs(d-seconds) > 2.5 {
		t.Errorf("ffprobe plays the recording for %.2f s, want %d ± a segment", d, seconds)
	}
	if code, _ := s.tryGet("/vod/" + r.Playlist); code != 404 {
		t.Errorf("/vod/ with the S3 backend: status %d, want 404", code)
	}
	if err := s.stop(); err != nil {
		t.Errorf("serve returned %v after shutdown", err)
	}
	if logs := s.logs.String(); strings.Contains(logs, s3Secret) || strings.Contains(logs, k.StreamKey) {
		t.Error("the S3 secret or the stream key appears in a log line")
	}
}
