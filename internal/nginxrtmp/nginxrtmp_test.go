package nginxrtmp

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/livestream/livestream/internal/testenv"
)

// startForTest starts a server for the test, skipping as testenv.NeedTool does
// when nginx or its module is missing.
func startForTest(t *testing.T, o Options) *Server {
	t.Helper()
	testenv.NeedTool(t, "nginx")
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Start(o)
	if errors.Is(err, ErrNotInstalled) && os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
		t.Skipf("%v (LIVESTREAM_ALLOW_SKIP=1)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

func TestRecordPublish(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	src := testenv.GenerateSource(t, testenv.SourceOptions{Width: 320, Height: 240, FPS: 30, Seconds: 2, Audio: true})
	s := startForTest(t, Options{RecordDir: t.TempDir() + "/rec"})
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want 127.0.0.1:PORT", s.Addr)
	}
	ffmpeg := testenv.NeedTool(t, "ffmpeg")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", src,
		"-c", "copy", "-f", "flv", "rtmp://"+s.Addr+"/"+Application+"/cam").CombinedOutput()
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	if s.CPUTime() != 0 {
		t.Errorf("CPUTime = %v before nginx exited, want 0", s.CPUTime())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("Exited is open after Stop")
	}
	pr := testenv.Probe(t, s.Recording("cam"))
	d, _ := strconv.ParseFloat(pr.Format.Duration, 64)
	if len(pr.Streams) != 2 || d < 1.5 {
		t.Errorf("recording: %d streams, %.2f s; want video and audio, 2 s", len(pr.Streams), d)
	}
	s.Kill() // after Stop: does nothing, does not hang
}

func TestStartErrors(t *testing.T) {
	testenv.NeedTool(t, "nginx")
	if _, err := Start(Options{}); err == nil || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("Start without Dir: err = %v, want one naming Dir", err)
	}
	_, err := Start(Options{Dir: t.TempDir(), Module: "/nonexistent/ngx_rtmp_module.so"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start with a missing module: err = %v, want ErrNotInstalled", err)
	}
	_, err = Start(Options{Dir: t.TempDir(), Nginx: "nonexistent-nginx"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start with a missing nginx: err = %v, want ErrNotInstalled", err)
	}
}

func TestAddrInUse(t *testing.T) {
	t.Cleanup(testenv.CheckGoroutines(t))
	testenv.NeedTool(t, "nginx")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := Start(Options{Dir: t.TempDir(), Addr: l.Addr().String()})
	if err == nil {
		s.Kill()
		t.Fatalf("Start on a taken address succeeded")
	}
	if !errors.Is(err, errAddrInUse) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("err = %v, want errAddrInUse naming %s", err, l.Addr())
	}
}

func TestConfig(t *testing.T) {
	base := Options{Dir: "/d", Addr: "127.0.0.1:1935", MaxConnections: 10, Module: ModulePath}
	for _, tc := range []struct {
		name     string
		o        func(Options) Options
		want     []string
		wantNone []string
	}{
		{"live only", func(o Options) Options { return o },
			[]string{"listen 127.0.0.1:1935;", "application live {", "live on;", "worker_connections 10;", "master_process off;"},
			[]string{"record"}},
		{"recording", func(o Options) Options { o.RecordDir = "/r"; return o },
			[]string{"record all;", "record_path /r;", "record_unique off;"}, nil},
		{"directives", func(o Options) Options { o.Directives = "deny publish all;"; return o },
			[]string{"deny publish all;"}, []string{"record"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config(tc.o(base))
			for _, w := range tc.want {
				if !strings.Contains(c, w) {
					t.Errorf("config lacks %q:\n%s", w, c)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(c, w) {
					t.Errorf("config has %q:\n%s", w, c)
				}
			}
		})
	}
}
