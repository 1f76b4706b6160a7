//go:build !linux

package durable

// haveSyncfs: elsewhere Commit flushes every file by itself.
const haveSyncfs = false

func syncFS(string) error { return nil }

// StartWriteBack is a no-op where the kernel takes no such hint.
func StartWriteBack(*File) {}
