package boundaries

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	module = "github.com/livestream/livestream"
	astiav = "github.com/asticode/go-astiav"
)

// mayImport is DESIGN.md's package table: the module packages each one may
// import directly. A row covers the packages under it too (media/h264 is
// media, bench/cmd/sidebyside is bench), and a package may import anything
// in its own row. media is shared by all. "*" is everything but cmd.
//
// One departure from DESIGN.md: live also imports hlsmux, because a
// stream's HLS files live in an hlsmux.MemoryStore that live creates,
// hands to the pipeline and lends to the origin.
var mayImport = map[string][]string{
	"cmd/livestream": {"*"},
	"media":          {},
	"live":           {"pipeline", "hlsmux", "relay", "record", "registry"},
	"ingest":         {"registry", "door"},
	"pipeline":       {"codec", "hlsmux"},
	"codec":          {},
	"hlsmux":         {},
	"relay":          {},
	"record":         {"hlsmux"},
	"registry":       {},
	"origin":         {"hlsmux", "registry"},
	"proxy":          {"registry", "door"},
	"tlsfile":        {},
	// door is what ingest's and the proxy's doors share (per-address
	// caps, refusal logs), as tlsfile is their TLS.
	"door": {},
	// bench drives whole packages to measure them (the relay benchmark,
	// the Twitch re-encode's settings, an LL-HLS stream's live edge that
	// the origin benchmark advances by hand), starts nginx-rtmp and
	// measures quality with the test environment's PSNR.
	"bench":               {"pipeline", "codec", "relay", "live", "origin", "hlsmux", "internal/nginxrtmp", "internal/testenv"},
	"internal/testenv":    {},
	"internal/boundaries": {},
	"internal/browser":    {"internal/testenv"},
	"internal/nginxrtmp":  {},
	// deploy holds the deployment files and a test that checks them.
	"deploy": {},
}

// Only codec touches FFmpeg; only these may import go-astiav directly.
var astiavUsers = []string{"codec"}

// Rows whose packages import the standard library and module packages only.
var stdOnly = []string{"media", "internal/testenv", "internal/nginxrtmp", "tlsfile", "door"}

type goPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// TestImportBoundaries fails when a package reaches past its row of the
// table: go-astiav outside codec, anything but the standard library in
// media, an import of cmd, or of a package its row does not list.
func TestImportBoundaries(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		rel, ok := inModule(p.ImportPath)
		if !ok {
			continue
		}
		seen[rel] = true
		row, ok := rowOf(rel)
		if !ok {
			t.Errorf("%s has no row in the package table: add it to DESIGN.md and to mayImport", rel)
			continue
		}
		for _, imp := range p.Imports {
			checkImport(t, rel, row, imp)
		}
		// Tests wire packages together as cmd does (bench's build a
		// pipeline.Output with an hlsmux store), so the table does not bind
		// them; FFmpeg and cmd stay out of reach all the same.
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if isAstiav(imp) && !slices.Contains(astiavUsers, row) {
				t.Errorf("%s has tests that import %s: only codec may touch FFmpeg", rel, imp)
			}
			if dep, ok := inModule(imp); ok && isCmd(dep) {
				t.Errorf("%s has tests that import %s: nothing imports cmd", rel, imp)
			}
		}
	}
	for _, rel := range slices.Concat(astiavUsers, stdOnly) {
		if !seen[rel] {
			t.Errorf("go list did not list %s: the test checks nothing", rel)
		}
	}
}

// checkImport reports imp if the package rel, in row, may not import it.
func checkImport(t *testing.T, rel, row, imp string) {
	t.Helper()
	dep, ours := inModule(imp)
	switch {
	case isAstiav(imp):
		if !slices.Contains(astiavUsers, row) {
			t.Errorf("%s imports %s: only codec may touch FFmpeg", rel, imp)
		}
	case imp == "C":
		if slices.Contains(stdOnly, row) {
			t.Errorf("%s uses cgo: %s uses the standard library only", rel, row)
		}
	case isStandard(imp):
	case !ours:
		if slices.Contains(stdOnly, row) {
			t.Errorf("%s imports %s: %s uses the standard library only", rel, imp, row)
		}
	case isCmd(dep):
		t.Errorf("%s imports %s: nothing imports cmd", rel, imp)
	default:
		depRow, _ := rowOf(dep)
		if depRow != row && depRow != "media" &&
			!slices.Contains(mayImport[row], "*") && !slices.Contains(mayImport[row], depRow) {
			t.Errorf("%s imports %s: %s may import only media and %v (DESIGN.md's package table)",
				rel, imp, row, mayImport[row])
		}
	}
}

func isAstiav(path string) bool { return path == astiav || strings.HasPrefix(path, astiav+"/") }

func isCmd(rel string) bool { return rel == "cmd" || strings.HasPrefix(rel, "cmd/") }

// isStandard tells a standard library package by its path, as the go
// command does: no dot in the first element.
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// inModule returns path relative to the module, and whether it is in it.
func inModule(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// rowOf returns the row of the table that covers the package rel: the
// longest row that is rel or a parent of it.
func rowOf(rel string) (string, bool) {
	best := ""
	for row := range mayImport {
		if (rel == row || strings.HasPrefix(rel, row+"/")) && len(row) > len(best) {
			best = row
		}
	}
	return best, best != ""
}

// listPackages runs `go list -deps -json ./...` from the module root.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("find the module root: go env GOMOD: %v %s", err, gomod)
	}
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("parse go list's output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
