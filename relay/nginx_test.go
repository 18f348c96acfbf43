package relay

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/livestream/livestream/internal/nginxrtmp"
	"github.com/livestream/livestream/internal/testenv"
)

// nginx is Debian's nginx with libnginx-mod-rtmp, recording every publish
// to the application "live" as RecordDir/NAME.flv.
type nginx struct {
	*nginxrtmp.Server
}

// startNginx starts nginx on addr ("" for a free port), in its own temp
// dir, as the current user, and waits until it accepts connections; extra
// holds directives for the application. The test's cleanup stops it.
func startNginx(t *testing.T, addr string, extra string) *nginx {
	t.Helper()
	testenv.NeedTool(t, "nginx")
	dir := t.TempDir()
	s, err := nginxrtmp.Start(nginxrtmp.Options{Dir: dir, Addr: addr, RecordDir: filepath.Join(dir, "rec"), Directives: extra})
	if errors.Is(err, nginxrtmp.ErrNotInstalled) {
		if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
			t.Skipf("%v (LIVESTREAM_ALLOW_SKIP=1)", err)
		}
		t.Fatalf("%v: run `make deps` (apt-get install nginx libnginx-mod-rtmp), or set LIVESTREAM_ALLOW_SKIP=1 to skip", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return &nginx{s}
}

// Stop ends nginx as an operator would (SIGQUIT: finish the sessions,
// close the recordings) and waits for it.
func (n *nginx) Stop(t *testing.T) {
	t.Helper()
	if err := n.Server.Stop(); err != nil {
		t.Error(err)
	}
}

// recording is the path of the recording of stream name.
func (n *nginx) recording(name string) string {
	return n.Recording(name)
}
