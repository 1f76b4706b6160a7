package store

import (
	"context"
	"fmt"
)

// Durability says whether a committed transaction survives a power cut, and why: on
// SQLite, synchronous=FULL (set on every connection; NORMAL in WAL mode may lose the
// last commits, and with them a number already handed out in a signed PDF); on
// PostgreSQL, fsync=on and synchronous_commit on (or remote_write, remote_apply),
// the server's defaults, which Kyso does not change.
func (s *Store) Durability(ctx context.Context) (bool, string, error) {
	db := s.db.WithContext(ctx)
	if s.sqlite {
		var n int
		if err := db.Raw("PRAGMA synchronous").Scan(&n).Error; err != nil {
			return false, "", fmt.Errorf("store: durability: %w", err)
		}
		names := map[int]string{0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
		return n >= 2, "sqlite synchronous=" + names[n], nil
	}
	var fsync, commit string
	if err := db.Raw("SHOW fsync").Scan(&fsync).Error; err != nil {
		return false, "", fmt.Errorf("store: durability: %w", err)
	}
	if err := db.Raw("SHOW synchronous_commit").Scan(&commit).Error; err != nil {
		return false, "", fmt.Errorf("store: durability: %w", err)
	}
	ok := fsync == "on" && (commit == "on" || commit == "remote_write" || commit == "remote_apply")
	return ok, "postgresql fsync=" + fsync + " synchronous_commit=" + commit, nil
}
