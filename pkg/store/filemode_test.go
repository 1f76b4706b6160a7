package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSQLiteFilesArePrivate: the database and its -wal and -shm are 0600 under the
// usual umask, and an existing 0644 database (an older version's) is narrowed.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kyso.db", "old.db"} {
		dsn := filepath.Join(dir, name)
		s, err := Open(context.Background(), Config{DSN: dsn, BlobDir: filepath.Join(dir, "blobs")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateClient(context.Background(), "c", "system", [32]byte{1}, "test"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
		s.Close()
	}
	fi, err := os.Stat(filepath.Join(dir, "blobs", tmpDirName))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("blob staging dir: %v %v", fi.Mode().Perm(), err)
	}
}
