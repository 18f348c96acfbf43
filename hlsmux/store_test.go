package hlsmux

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func stores(t *testing.T) map[string]Store {
	dir, err := NewDirStore(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Store{"memory": NewMemoryStore(), "dir": dir}
}

func TestStores(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Get("720p/1.ts"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get of nothing: %v, want ErrNotFound", err)
			}
			// Put creates the parent folders.
			if err := s.Put("720p/1.ts", []byte("one")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put("720p/1.ts", []byte("two")); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Get("720p/1.ts"); err != nil || string(b) != "two" {
				t.Errorf("Get = %q, %v", b, err)
			}
			if err := s.Put("a/b/c/live.m3u8", nil); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Get("a/b/c/live.m3u8"); err != nil || len(b) != 0 {
				t.Errorf("Get of an empty file = %q, %v", b, err)
			}
			if err := s.Delete("720p/1.ts"); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete("720p/1.ts"); err != nil {
				t.Errorf("second Delete: %v", err)
			}
			if _, err := s.Get("720p/1.ts"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete: %v", err)
			}
			for _, good := range []string{"live.m3u8", "..hidden", "a..b.ts", "x/.y"} {
				if err := s.Put(good, []byte("x")); err != nil {
					t.Errorf("Put(%q) = %v", good, err)
				}
			}
			for _, bad := range []string{"", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "a/./b", "./a", "a//b", "a/", `a\b`, "a\x00b"} {
				err := s.Put(bad, []byte("x"))
				if !errors.Is(err, ErrBadName) {
					t.Errorf("Put(%q) = %v, want ErrBadName", bad, err)
				} else if !strings.Contains(err.Error(), strconv.Quote(bad)) {
					t.Errorf("Put(%q) = %v, which does not name it", bad, err)
				}
			}
		})
	}
}

// TestStoreAtomic: readers racing with Put see a whole old or a whole new
// value, never a part (and, under -race, the memory store is race-free).
func TestStoreAtomic(t *testing.T) {
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if err := s.Put("live/index.m3u8", a); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						got, err := s.Get("live/index.m3u8")
						if err != nil || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
							t.Errorf("reader saw %d bytes (err %v): a partial write", len(got), err)
							return
						}
					}
				})
			}
			for i := range 200 {
				data := a
				if i%2 == 0 {
					data = b
				}
				if err := s.Put("live/index.m3u8", data); err != nil {
					t.Error(err)
					break
				}
			}
			close(stop)
			wg.Wait()
		})
	}
}

func TestDirStoreFiles(t *testing.T) {
	root := t.TempDir()
	s, err := NewDirStore(root)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Put("720p/index.m3u8", []byte("#EXTM3U\n")); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "720p"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "index.m3u8" {
		t.Errorf("files %v, want index.m3u8 alone (no temporary file left)", entries)
	}
	if fi, err := os.Stat(filepath.Join(root, "720p", "index.m3u8")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("stat: %v, %v; want mode 0644 so a web server can read it", fi, err)
	}
	// A store rooted under a file cannot be created.
	if _, err := NewDirStore(filepath.Join(root, "720p", "index.m3u8", "x")); err == nil {
		t.Error("NewDirStore under a file succeeded")
	}
}

func TestMemoryStoreList(t *testing.T) {
	s := NewMemoryStore()
	for _, n := range []string{"720p/2.ts", "720p/index.m3u8", "360p/1.ts", "720p/1.ts", "live.m3u8"} {
		if err := s.Put(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.List("720p/"); !slices.Equal(got, []string{"720p/1.ts", "720p/2.ts", "720p/index.m3u8"}) {
		t.Errorf("List(720p/) = %v", got)
	}
	if got := s.List(""); len(got) != 5 {
		t.Errorf("List() = %v", got)
	}
	if got := s.Size(); got != int64(len("720p/2.ts720p/index.m3u8360p/1.ts720p/1.tslive.m3u8")) {
		t.Errorf("Size() = %d", got)
	}
}
