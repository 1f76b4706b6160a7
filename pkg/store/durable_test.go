package store

import (
	"context"
	"testing"
)

// TestDurability: every connection of a SQLite store runs synchronous=FULL; a
// PostgreSQL server whose fsync is off is reported as not durable.
func TestDurability(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg, nil)
		ctx := context.Background()
		ok, how, err := s.Durability(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(how)
		if cfg.Driver == DriverPostgres {
			// The test server runs with fsync=off (internal/testenv, for speed): it must
			// be reported as not durable; with fsync=on, the default, it is.
			if ok || how != "postgresql fsync=off synchronous_commit=on" {
				t.Errorf("the test server (fsync=off) reported as %v: %s", ok, how)
			}
			return
		}
		if !ok {
			t.Fatalf("sqlite is not durable: %s", how)
		}
		if cfg.Driver == DriverSQLite {
			// Another connection of the pool reports the same: the setting is per connection.
			conns := make([]func(), 0, 4)
			for range 4 {
				c, err := s.DB().DB()
				if err != nil {
					t.Fatal(err)
				}
				conn, err := c.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n); err != nil || n != 2 {
					t.Errorf("a connection runs synchronous=%d (%v), want 2 (FULL)", n, err)
				}
				conns = append(conns, func() { conn.Close() })
			}
			for _, c := range conns {
				c()
			}
		}
	})
}
