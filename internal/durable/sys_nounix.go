//go:build !unix

package durable

import "os"

// umask: systems without one give files the mode asked for.
const umask os.FileMode = 0

// SyncDir: directories cannot be flushed here; the rename is as durable as the
// file system makes it.
func SyncDir(string) error { return nil }
