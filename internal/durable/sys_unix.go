//go:build unix

package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// umask is the process's file mode creation mask, read once at start (setting it
// is the only way to read it), so that outputs get the mode os.WriteFile would give.
var umask = func() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}()

// SyncDir flushes a directory, so that the names just made in it survive a power cut.
func SyncDir(dir string) error { return syncPath(dir) }
