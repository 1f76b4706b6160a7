package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/kyso-vn/kyso/pkg/fault"
	"gorm.io/gorm"

	"github.com/kyso-vn/kyso/internal/durable"
)

// tmpDirName is where incoming content is written before its hash, and so its name, is
// known. It is inside BlobDir, on the same file system, so the final rename is atomic.
const tmpDirName = ".tmp"

// staged is content written to a temp file and hashed, not yet in the blob store.
type staged struct {
	sha     string
	size    int64
	path    string          // the temp file, read back in database mode
	pending durable.Pending // zero once published
}

func (st *staged) discard() {
	if st != nil {
		durable.Discard(st.pending)
	}
}

// stage streams r into a temp file while hashing it: content is never held whole in
// memory on its way in.
func (s *Store) stage(ctx context.Context, r io.Reader) (*staged, error) {
	dir := filepath.Join(s.cfg.BlobDir, tmpDirName)
	if s.cfg.BlobsInDB {
		dir = s.cfg.TempDir // "": the system's temp dir, as there is no blob dir
	}
	f, err := durable.CreateIn(dir, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: stage content: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		f.Discard()
		return nil, fmt.Errorf("store: stage content: %w", err)
	}
	st := &staged{sha: hex.EncodeToString(h.Sum(nil)), size: n, path: f.Name()}
	if st.pending, err = f.Stage(); err != nil {
		return nil, fmt.Errorf("store: stage content: %w", err)
	}
	return st, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (s *Store) blobPath(sha string) string {
	return filepath.Join(s.cfg.BlobDir, sha[0:2], sha[2:4], sha)
}

// publishFile moves staged content to its content address durably (internal/durable:
// flushed, renamed, the directory flushed), and flushes new fan-out directories too,
// so the name survives a power cut. It runs before the row that refers to the blob is
// committed, so a crash leaves at worst an unreferenced blob.
func (s *Store) publishFile(st *staged) error {
	final := s.blobPath(st.sha)
	if _, err := os.Stat(final); err == nil {
		st.discard() // same content already stored
		return nil
	}
	dir := filepath.Dir(final)
	// New fan-out directories must reach the disk too; an existing one only needs
	// the new entry in the leaf directory synced, which the commit does.
	var parents []string
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("store: blob dir: %w", err)
		}
		parents = []string{filepath.Dir(dir), s.cfg.BlobDir}
	}
	if err := durable.Commit(st.pending.As(final)); err != nil {
		return fmt.Errorf("store: publish blob: %w", err)
	}
	st.pending = durable.Pending{}
	for _, d := range parents {
		if err := durable.SyncDir(d); err != nil {
			return fmt.Errorf("store: sync dir: %w", err)
		}
	}
	return nil
}

// putBlobRow writes staged content into the blobs table inside tx (BlobsInDB mode):
// there the blob and its row commit together. bytea has no streaming insert, so the
// content is in memory for this one statement.
func (s *Store) putBlobRow(tx *gorm.DB, st *staged) error {
	var n int64
	if err := tx.Raw("SELECT COUNT(*) FROM blobs WHERE sha256 = ?", st.sha).Scan(&n).Error; err != nil {
		return fmt.Errorf("store: blob lookup: %w", err)
	}
	if n > 0 {
		return nil
	}
	data, err := os.ReadFile(st.path)
	if err != nil {
		return fmt.Errorf("store: read staged content: %w", err)
	}
	// Two transactions storing the same content at once both see no row: the second
	// insert waits for the first and then does nothing (one content, one row).
	if err := tx.Exec("INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING", st.sha, st.size, data).Error; err != nil {
		return fmt.Errorf("store: insert blob: %w", err)
	}
	return nil
}

// withContent stages r, publishes it (disk mode) and runs fn in a write transaction
// that, in database mode, also holds the blob row. Either the blob and the rows fn writes
// are all stored, or the rows are not.
func (s *Store) withContent(ctx context.Context, r io.Reader, fn func(tx *gorm.DB, sha string, size int64) error) error {
	st, err := s.stage(ctx, r)
	if err != nil {
		return err
	}
	defer st.discard()
	if !s.cfg.BlobsInDB {
		if err := s.publishFile(st); err != nil {
			return err
		}
	}
	return s.write(ctx, func(tx *gorm.DB) error {
		if s.cfg.BlobsInDB {
			if err := s.putBlobRow(tx, st); err != nil {
				return err
			}
		}
		return fn(tx, st.sha, st.size)
	})
}

// OpenBlob opens stored content by its sha256 (hex). The reader checks the hash as it
// goes and returns ErrHashChange at the end if the content was altered on disk.
func (s *Store) OpenBlob(ctx context.Context, sha string) (io.ReadCloser, error) {
	if !isHexSHA256(sha) {
		return nil, fault.Errorf(fault.Invalid, "%q is not a sha256", sha)
	}
	if s.cfg.BlobsInDB {
		var row struct{ Data []byte }
		res := s.db.WithContext(ctx).Raw("SELECT data FROM blobs WHERE sha256 = ?", sha).Scan(&row)
		if res.Error != nil {
			return nil, fmt.Errorf("store: read blob: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil, fault.Errorf(fault.NotFound, "no blob %s", sha)
		}
		return &verifyingReader{r: io.NopCloser(bytes.NewReader(row.Data)), want: sha, h: sha256.New()}, nil
	}
	f, err := os.Open(s.blobPath(sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fault.Errorf(fault.NotFound, "no blob %s", sha)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open blob: %w", err)
	}
	return &verifyingReader{r: f, want: sha, h: sha256.New()}, nil
}

type verifyingReader struct {
	r    io.ReadCloser
	want string
	h    hash.Hash
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(v.h.Sum(nil)) != v.want {
		return n, fmt.Errorf("%w: blob %s", ErrHashChange, v.want)
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.r.Close() }

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hashFile recomputes a blob's hash for Check.
func hashReader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}
