package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The FileStore's disk work: the lock shared between processes, atomic
// replacement of the file, and telling whether the file changed. It relies
// on flock(2), rename(2) and inode numbers, so on Linux and the BSDs.

// stamp identifies one version of the channels file. Every write renames a
// new file into place, so the inode changes with each; size and the
// nanosecond mtime guard against an inode number being reused.
type stamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func stampOf(fi fs.FileInfo) stamp {
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}

func (s stamp) equal(o stamp) bool {
	return s.dev == o.dev && s.ino == o.ino && s.size == o.size && s.mtime.Equal(o.mtime)
}

// lockExclusive takes an exclusive flock on f, waiting while another open
// of the file (in this process or another) holds it. flock locks belong to
// the open file description, so one FileStore's own goroutines do not
// exclude each other through it: its mutex does that.
//
// The wait blocks in the kernel and ignores ctx once begun: holders keep the
// lock for one read and one write of the file, and polling with LOCK_NB
// instead lets a busy writer starve the others (measured: a process
// creating channels in a loop kept another out for most of a minute).
func lockExclusive(ctx context.Context, f *os.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	if err := conn.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX)
			if !errors.Is(lockErr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if lockErr != nil {
		return fmt.Errorf("flock %s: %w", f.Name(), lockErr)
	}
	return nil
}

func unlock(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var unlockErr error
	if err := conn.Control(func(fd uintptr) {
		unlockErr = syscall.Flock(int(fd), syscall.LOCK_UN)
	}); err != nil {
		return err
	}
	if unlockErr != nil {
		return fmt.Errorf("unlock %s: %w", f.Name(), unlockErr)
	}
	return nil
}

// writeAtomic replaces path with data so that a reader, or a crash, sees
// either the old file or the new one whole: a temporary file in the same
// directory, written and fsynced, renamed over path, then the directory
// fsynced so the rename itself survives a power cut. The file has mode
// 0600. It returns the new file's stamp.
func writeAtomic(path string, data []byte) (stamp, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return stamp{}, err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return stamp{}, err
	}
	if err := tmp.Sync(); err != nil {
		return stamp{}, err
	}
	fi, err := tmp.Stat()
	if err != nil {
		return stamp{}, err
	}
	if err := tmp.Close(); err != nil {
		return stamp{}, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return stamp{}, err
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return stamp{}, err
	}
	// rename keeps the inode, size and mtime the stat saw.
	return stampOf(fi), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
