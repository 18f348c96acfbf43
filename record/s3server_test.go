package record

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livestream/livestream/internal/testenv"
)

// The test S3 server's credentials and bucket.
const (
	s3Access = "livestream-test"
	s3Secret = "s3cr3t-n0t-in-logs-0123456789"
	s3Bucket = "recordings"
)

// s3Server is versitygw with its posix backend on 127.0.0.1: a real
// S3-compatible server, which a test can stop and start again on the same
// port and data, as an outage.
type s3Server struct {
	t    testing.TB
	bin  string
	addr string // 127.0.0.1:PORT
	dir  string
	cmd  *exec.Cmd
	exit chan struct{}
}

// needVersitygw returns versitygw's path: on PATH or in $(go env GOPATH)/bin
// where `go install` puts it. Missing, it fails the test (or skips it
// with LIVESTREAM_ALLOW_SKIP=1), as testenv.NeedTool does.
func needVersitygw(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	if len(gopath) > 0 {
		p := filepath.Join(string(gopath[:len(gopath)-1]), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
	if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
		t.Skipf("versitygw is not installed (LIVESTREAM_ALLOW_SKIP=1); run `%s`", install)
	}
	t.Fatalf("versitygw (the S3 server of the tests) is not installed: run `%s` (make deps), or set LIVESTREAM_ALLOW_SKIP=1 to skip", install)
	return ""
}

// startS3 starts a server with the bucket s3Bucket created; it is stopped
// at the end of the test.
func startS3(t testing.TB) *s3Server {
	t.Helper()
	s := &s3Server{t: t, bin: needVersitygw(t), addr: testenv.FreeAddr(t), dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	_, err := s.client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)})
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return s
}

// start runs the server and waits until it accepts connections.
func (s *s3Server) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--access", s3Access, "--secret", s3Secret, "--port", s.addr, "posix", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	s.exit = make(chan struct{})
	cmd, exit := s.cmd, s.exit
	go func() { cmd.Wait(); close(exit) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exit:
			s.t.Fatalf("versitygw on %s exited at start-up: %v", s.addr, cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("versitygw does not listen on %s after 10 s: %v", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond) // another process: no event to await
	}
}

// stop kills the server and waits for it to exit; stopping a stopped
// server does nothing.
func (s *s3Server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exit
	s.cmd = nil
}

func (s *s3Server) endpoint() string { return "http://" + s.addr }

func (s *s3Server) config() S3Config {
	return S3Config{Bucket: s3Bucket, Prefix: "rec", Region: "us-east-1", Endpoint: s.endpoint(),
		PathStyle: true, AccessKeyID: s3Access, SecretAccessKey: s3Secret}
}

// backend is an S3Backend on the test bucket, under the prefix "rec".
func (s *s3Server) backend() *S3Backend {
	s.t.Helper()
	b, err := NewS3Backend(context.Background(), s.config())
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// client is a plain SDK client, to look at the bucket behind the backend.
func (s *s3Server) client() *s3.Client {
	return s.backend().client
}
