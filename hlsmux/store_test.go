package hlsmux

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestStores(t *testing.T) {
	dir, err := NewDirStore(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Store{"memory": NewMemoryStore(), "dir": dir} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Get("720p/1.ts"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get of nothing: %v, want ErrNotFound", err)
			}
			if err := s.Put("720p/1.ts", []byte("one")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put("720p/1.ts", []byte("two")); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Get("720p/1.ts"); err != nil || string(b) != "two" {
				t.Errorf("Get = %q, %v", b, err)
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
			for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", `a\b`} {
				if err := s.Put(bad, []byte("x")); !errors.Is(err, ErrBadName) {
					t.Errorf("Put(%q) = %v, want ErrBadName", bad, err)
				}
			}
		})
	}
}

// TestDirStoreAtomic: readers racing with Put see a whole old or a whole
// new file, never a part, and no temporary files are left.
func TestDirStoreAtomic(t *testing.T) {
	root := t.TempDir()
	s, err := NewDirStore(root)
	if err != nil {
		t.Fatal(err)
	}
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
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
				got, err := os.ReadFile(filepath.Join(root, "live", "index.m3u8"))
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
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	entries, _ := os.ReadDir(filepath.Join(root, "live"))
	if len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1 (no temporary files)", len(entries))
	}
}
