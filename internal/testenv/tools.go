package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of a command the test runs. A missing command
// fails the test, since `make test` installs them all; with
// LIVESTREAM_ALLOW_SKIP=1 it skips the test instead.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("LIVESTREAM_ALLOW_SKIP") == "1" {
			t.Skipf("%s is not installed (LIVESTREAM_ALLOW_SKIP=1)", name)
		}
		t.Fatalf("%s is not installed: run `make deps` (make test does), or set LIVESTREAM_ALLOW_SKIP=1 to skip: %v", name, err)
	}
	return p
}
