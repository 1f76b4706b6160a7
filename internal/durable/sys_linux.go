package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs: Commit may flush a chunk with one syncfs per directory.
const haveSyncfs = true

// syncFS flushes the whole file system holding dir (syncfs).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(f.Fd()))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// StartWriteBack asks the kernel to start writing f to disk now, so that the flush
// at commit finds little left to do. A hint only: where it is not taken, Commit
// flushes all.
func StartWriteBack(f *File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
