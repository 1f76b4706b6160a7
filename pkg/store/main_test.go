package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
)

// childEnv selects a child role when the test binary re-executes itself as a second OS
// process (numbering from two processes, a process killed while storing).
const childEnv = "KYSO_STORE_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(testenv.RunWithPostgres(m))
}

// fakeClock is the injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// backend names a database setup every store test runs against.
type backend struct {
	name string
	cfg  func(t testing.TB) Config
}

var backends = []backend{
	{"sqlite", func(t testing.TB) Config {
		dir := t.TempDir()
		return Config{Driver: DriverSQLite, DSN: filepath.Join(dir, "kyso.db"), BlobDir: filepath.Join(dir, "blobs")}
	}},
	{"postgres", func(t testing.TB) Config {
		return Config{Driver: DriverPostgres, DSN: testenv.StartPostgres(t), BlobDir: filepath.Join(t.TempDir(), "blobs")}
	}},
	{"postgres-blobs-in-db", func(t testing.TB) Config {
		return Config{Driver: DriverPostgres, DSN: testenv.StartPostgres(t), BlobsInDB: true}
	}},
}

// eachBackend runs fn as a subtest per backend (the two PostgreSQL blob modes only
// where blobs matter).
func eachBackend(t *testing.T, blobs bool, fn func(t *testing.T, cfg Config)) {
	for _, b := range backends {
		if !blobs && strings.HasSuffix(b.name, "blobs-in-db") {
			continue
		}
		t.Run(b.name, func(t *testing.T) { fn(t, b.cfg(t)) })
	}
}

var t0 = time.Date(2021, 3, 5, 14, 30, 15, 0, time.FixedZone("ICT", 7*3600))

func openStore(t *testing.T, cfg Config, clock *fakeClock) *Store {
	t.Helper()
	if clock != nil {
		cfg.Now = clock.Now
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
