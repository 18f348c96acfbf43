package boundaries

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/livestream/livestream"

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
	Module     *struct{ Path string }
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportBoundaries fails when a package reaches past its row of
// DESIGN.md's package table.
func TestImportBoundaries(t *testing.T) {
	pkgs := listPackages(t)
	std := map[string]bool{}
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	ours := 0
	for _, p := range pkgs {
		if !strings.HasPrefix(p.ImportPath, module) {
			continue
		}
		ours++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/asticode/go-astiav") && rel != "codec" {
				t.Errorf("%s imports go-astiav: only codec may touch FFmpeg", rel)
			}
			if strings.HasPrefix(imp, module+"/cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", rel, imp)
			}
			if (rel == "media" || strings.HasPrefix(rel, "media/")) && !std[imp] && !strings.HasPrefix(imp, module+"/media") {
				t.Errorf("%s imports %s: media uses the standard library only", rel, imp)
			}
			if rel == "hlsmux" && (imp == module+"/codec" || imp == module+"/pipeline") {
				t.Errorf("hlsmux imports %s: packages below pipeline do not know it", imp)
			}
			if rel == "internal/testenv" && !std[imp] && !strings.HasPrefix(imp, module+"/media") {
				t.Errorf("internal/testenv imports %s: std and media only", imp)
			}
		}
	}
	if ours < 8 {
		t.Fatalf("go list found only %d of our packages", ours)
	}
}
