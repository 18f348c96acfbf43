package relay

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/internal/testenv"
)

const nginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// nginx is Debian's nginx with libnginx-mod-rtmp, recording every publish
// to the application "live" as RecordDir/NAME.flv.
type nginx struct {
	Addr      string // 127.0.0.1:PORT
	RecordDir string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// startNginx starts nginx on addr ("" for a free port), in its own temp
// dir, as the current user, and waits until it accepts connections. The
// test's cleanup stops it.
func startNginx(t *testing.T, addr string, extra string) *nginx {
	t.Helper()
	bin := testenv.NeedTool(t, "nginx")
	if _, err := os.Stat(nginxRTMPModule); err != nil {
		if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
			t.Skipf("nginx's RTMP module is not installed (LIVESTREAM_ALLOW_SKIP=1)")
		}
		t.Fatalf("nginx's RTMP module is not installed: run `make deps` (apt-get install libnginx-mod-rtmp), or set LIVESTREAM_ALLOW_SKIP=1 to skip: %v", err)
	}
	if addr == "" {
		addr = testenv.FreeAddr(t)
	}
	dir := t.TempDir()
	n := &nginx{Addr: addr, RecordDir: filepath.Join(dir, "rec"), exited: make(chan struct{})}
	if err := os.Mkdir(n.RecordDir, 0o777); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
rtmp {
	server {
		listen %[3]s;
		chunk_size 4096;
		application live {
			live on;
			record all;
			record_path %[4]s;
			record_unique off;
			%[5]s
		}
	}
}
`, nginxRTMPModule, dir, addr, n.RecordDir, extra)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", confPath)
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(n.Kill)
	testenv.WaitFor(t, 10*time.Second, func() bool {
		select {
		case <-n.exited:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited at start:\n%s", b)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, "nginx to accept connections on "+addr)
	return n
}

// Stop ends nginx as an operator would (SIGQUIT: finish the sessions,
// close the recordings) and waits for it.
func (n *nginx) Stop(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("nginx did not stop within 5 s of SIGQUIT")
		n.Kill()
	}
}

// Kill ends nginx at once, like a crash, and waits for it.
func (n *nginx) Kill() {
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// recording is the path of the recording of stream name.
func (n *nginx) recording(name string) string {
	return filepath.Join(n.RecordDir, name+".flv")
}
