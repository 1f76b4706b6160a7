package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// privateFile is the mode of every file the store writes: documents, and the SQLite
// database that indexes them (with its -wal and -shm, which SQLite creates with the
// database file's mode).
const privateFile fs.FileMode = 0o600

// sqliteFile is the database file a SQLite DSN names, or "" for an in-memory one.
func sqliteFile(dsn string) string {
	path, query, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(query, "mode=memory") {
		return ""
	}
	return filepath.Clean(path)
}

// privateSQLite creates the database file with mode 0600 before SQLite opens it (it
// would create it 0644 under the usual umask), and narrows an existing database and
// its -wal and -shm files made by an older version.
func privateSQLite(dsn string) error {
	path := sqliteFile(dsn)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		return fmt.Errorf("store: sqlite file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, privateFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: sqlite file mode: %w", err)
		}
	}
	return nil
}
