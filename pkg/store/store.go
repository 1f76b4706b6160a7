// Package store is Kyso's embedded document store ("quản lý văn bản"): agencies and their
// identifier codes, registers and Decree 30 numbering, documents with their versions and
// attachments, content-addressed blobs, certificates and signing keys in use, API
// clients, pending two-phase signatures, and a hash-chained audit trail. It runs on
// SQLite (pure Go, one machine) or PostgreSQL (many replicas) through gorm; numbering and
// the audit chain stay correct across processes on both.
//
// The issuing workflow calls, in order: CreateDocument (an outgoing draft, with its
// symbol) → Approve (the leader-signed revision) → AssignNumber (number, issue time and
// edXML identifier, in one transaction with the register) → the signing code writes them
// into the PDF and the clerk signs → Issue (the final revision). An incoming document is
// one CreateDocument with Direction Incoming, which takes the next arrival number.
// Every step appends its audit event in the same transaction as the change.
//
// It sits below the signing code: it imports docid and the standard library and the
// database drivers, never HTTP, PKCS#11 or the signer packages.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Drivers accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// The store refuses with *fault.Error values made where the refusal happens; their
// detail is written for people and shown as it is. These names are the fault kinds,
// kept so that callers may say errors.Is(err, store.ErrNotFound).
var (
	ErrNotFound = fault.NotFound
	ErrConflict = fault.Conflict // a uniqueness rule or a state transition refused
	ErrExpired  = fault.Expired
	ErrInvalid  = fault.Invalid
)

// ErrHashChange is stored content that no longer matches its hash: damage, never a
// caller's mistake, so it is no fault kind but an internal error.
var ErrHashChange = errors.New("store: stored content does not match its hash")

// Config chooses the database and where blobs live.
type Config struct {
	Driver string // "sqlite" (default) or "postgres"
	// DSN is a file path for SQLite (query parameters, if any, replace the defaults), a
	// libpq key=value string or URL for PostgreSQL. Required.
	DSN string
	// BlobDir holds content-addressed files (BlobDir/ab/cd/<sha256>). Required unless
	// BlobsInDB.
	BlobDir string
	// BlobsInDB keeps content inside the database (a bytea table on PostgreSQL), so that
	// replicas need no shared disk.
	BlobsInDB bool
	// Now is the clock; nil means time.Now. Tests inject it.
	Now func() time.Time
	// TempDir receives content on its way into the database when BlobsInDB (""
	// means os.TempDir()); kyso serve gives its own private directory, swept at start.
	TempDir string
	// MaxOpenConns bounds the pool (0: driver default for PostgreSQL, 8 for SQLite).
	MaxOpenConns int
}

// Store is safe for concurrent use by many goroutines, and several processes may share
// one database.
type Store struct {
	db     *gorm.DB
	cfg    Config
	sqlite bool
	// wmu serializes this process's SQLite write transactions: SQLite has one writer,
	// and queueing in-process is cheaper than spinning on SQLITE_BUSY. Other processes
	// are held off by BEGIN IMMEDIATE and busy_timeout.
	wmu sync.Mutex
}

// Open connects, runs pending schema migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Driver == "" {
		cfg.Driver = DriverSQLite
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Driver != DriverSQLite && cfg.Driver != DriverPostgres {
		return nil, fault.Errorf(fault.Invalid, "unknown store driver %q (want sqlite or postgres)", cfg.Driver)
	}
	if cfg.DSN == "" {
		return nil, fault.Errorf(fault.Invalid, "the store needs a DSN")
	}
	if !cfg.BlobsInDB {
		if cfg.BlobDir == "" {
			return nil, fault.Errorf(fault.Invalid, "the store needs a blob directory unless blobs are kept in the database")
		}
		if err := os.MkdirAll(filepath.Join(cfg.BlobDir, tmpDirName), 0o700); err != nil {
			return nil, fmt.Errorf("store: blob dir: %w", err)
		}
		// Content waits here in plaintext before its rename: no one else reads it.
		if err := os.Chmod(filepath.Join(cfg.BlobDir, tmpDirName), 0o700); err != nil {
			return nil, fmt.Errorf("store: blob dir: %w", err)
		}
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true, // every write here runs in an explicit transaction
		NowFunc:                func() time.Time { return dbTime(cfg.Now()) },
	}
	var (
		dial gorm.Dialector
		s    = &Store{cfg: cfg}
	)
	switch cfg.Driver {
	case DriverSQLite:
		s.sqlite = true
		if err := privateSQLite(cfg.DSN); err != nil {
			return nil, err
		}
		dial = sqlite.Open(sqliteDSN(cfg.DSN))
	case DriverPostgres:
		dial = postgres.Open(cfg.DSN)
	default:
		return nil, fault.Errorf(fault.Invalid, "unknown store driver %q (want sqlite or postgres)", cfg.Driver)
	}
	db, err := gorm.Open(dial, gcfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Driver, err)
	}
	s.db = db
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	switch {
	case cfg.MaxOpenConns > 0:
		sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	case s.sqlite:
		sqlDB.SetMaxOpenConns(8)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("store: connect %s: %w", cfg.Driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDSN adds the settings every connection needs: WAL so readers never block the
// writer, synchronous=FULL so that a committed transaction (a number taken, a document
// issued) survives a power cut — NORMAL may lose the last commits, and with them a
// number already handed out in a PDF; PostgreSQL is durable by default (fsync=on,
// synchronous_commit=on) and needs nothing —, a busy timeout so other processes' writes are waited for, foreign keys, and
// BEGIN IMMEDIATE so a write transaction takes the write lock before it reads (no
// deadlock upgrading a read lock). Times are written in SQLite's own format, which sorts
// as text.
func sqliteDSN(path string) string {
	if strings.Contains(path, "?") {
		return path
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return path + "?" + q.Encode()
}

// Close releases the database connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return sqlDB.Close()
}

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.cfg.Driver }

// DB exposes the gorm handle for tests and maintenance tools in this module.
func (s *Store) DB() *gorm.DB { return s.db }

func (s *Store) now() time.Time { return dbTime(s.cfg.Now()) }

// dbTime is the one form times are stored in: UTC, microseconds (PostgreSQL's
// precision), so a value reads back equal and hashes the same on both databases.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// write runs fn in a write transaction, retrying when the database reports contention
// that a retry resolves (SQLite busy, PostgreSQL serialization failure or deadlock).
func (s *Store) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.sqlite {
		s.wmu.Lock()
		defer s.wmu.Unlock()
	}
	backoff := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := s.db.WithContext(ctx).Transaction(fn)
		if err == nil || attempt == 20 || !retryable(err) {
			return err
		}
		t := time.NewTimer(backoff + time.Duration(rand.Int64N(int64(backoff))))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: %w", ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// isUniqueViolation tells a broken uniqueness rule apart from other failures.
func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fault.Errorf(fault.NotFound, "no %s", what)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}
