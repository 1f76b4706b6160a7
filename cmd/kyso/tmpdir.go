package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Temporary copies of documents (uploads, documents being signed or verified, content
// on its way into the store) live under DATA_DIR/tmp, a 0700 directory, in files of
// mode 0600. Each process that writes there takes a directory of its own,
// tmp/<id>/, held by an exclusive lock on tmp/<id>.lock for as long as it lives. A
// process killed with SIGKILL leaves its directory behind with the lock released by
// the kernel; sweepTemp, run when `kyso serve` starts and by `kyso docs check`,
// removes every directory whose lock nobody holds, and loose files (the layout before
// per-process directories), so plaintext copies do not outlive a crash. Directories
// of live processes, replicas sharing the data directory included, are left alone.

const tempLockSuffix = ".lock"

// tempRoot is DATA_DIR/tmp.
func tempRoot(dataDir string) string { return filepath.Join(dataDir, "tmp") }

// processTempDir sweeps root, then makes this process's own directory under it.
// release unlocks and removes it; a crash leaves it to the next sweep.
func processTempDir(root string) (dir string, swept int, release func(), err error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", 0, nil, fmt.Errorf("temporary directory: %w", err)
	}
	if err := os.Chmod(root, 0o700); err != nil { // an older version made it 0750
		return "", 0, nil, fmt.Errorf("temporary directory: %w", err)
	}
	swept, err = sweepTemp(root)
	if err != nil {
		return "", swept, nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
	// The lock is taken before the directory exists, so a sweep never sees a
	// directory without a held lock.
	lock, err := os.OpenFile(filepath.Join(root, id+tempLockSuffix), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", swept, nil, fmt.Errorf("temporary directory: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return "", swept, nil, fmt.Errorf("temporary directory: lock: %w", err)
	}
	dir = filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		lock.Close()
		os.Remove(lock.Name())
		return "", swept, nil, fmt.Errorf("temporary directory: %w", err)
	}
	release = func() {
		os.RemoveAll(dir)
		os.Remove(lock.Name())
		lock.Close()
	}
	return dir, swept, release, nil
}

// sweepTemp removes what crashed processes left under root: directories whose lock is
// free, their lock files, and loose files. It returns how many files it removed.
func sweepTemp(root string) (int, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sweeping temporary files: %w", err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(root, name)
		switch {
		case e.IsDir():
			lockPath := p + tempLockSuffix
			free, err := lockFree(lockPath)
			if err != nil {
				return n, err
			}
			if !free {
				continue
			}
			n += countFiles(p)
			if err := os.RemoveAll(p); err != nil {
				return n, fmt.Errorf("sweeping temporary files: %w", err)
			}
			os.Remove(lockPath)
		case strings.HasSuffix(name, tempLockSuffix):
			// A lock whose directory is gone: its process ended, or is between taking
			// the lock and making the directory (then the lock is held).
			if free, err := lockFree(p); err == nil && free {
				if _, err := os.Stat(strings.TrimSuffix(p, tempLockSuffix)); errors.Is(err, fs.ErrNotExist) {
					os.Remove(p)
				}
			}
		default:
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, fmt.Errorf("sweeping temporary files: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// lockFree reports whether nobody holds the lock at path (true when it does not
// exist: the directory's process is gone).
func lockFree(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("sweeping temporary files: %w", err)
	}
	defer f.Close() // closing drops the probe's own lock
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// serveTempDir is `kyso serve`'s temporary directory: what crashed runs left is
// swept first, and the count logged.
func serveTempDir(dataDir string, log *slog.Logger) (string, func(), error) {
	dir, swept, release, err := processTempDir(tempRoot(dataDir))
	if err != nil {
		return "", nil, fmt.Errorf("serve: %w", err)
	}
	if swept > 0 {
		log.Warn("removed temporary copies of documents left by a process that did not end cleanly", "files", swept)
	}
	return dir, release, nil
}
