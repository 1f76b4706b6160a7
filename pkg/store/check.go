package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Problem is one inconsistency Check found.
type Problem struct {
	// "blob_missing", "blob_corrupt", "audit_edited", "audit_missing", "audit_truncated",
	// "audit_rewritten"; "row_changed", "row_unsealed", "row_missing" (audit_rows.go)
	Kind   string
	Ref    string // the blob hash or audit event id
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.Kind, p.Ref, p.Detail) }

// CheckReport is what Check found. OK means no problem; orphan blobs are not problems
// (a crash between writing a blob and committing its row leaves one) but are listed.
type CheckReport struct {
	Documents     int64
	Versions      int64
	Blobs         int // distinct blobs referenced and verified
	AuditEvents   int64
	OrphanBlobs   []string // stored but unreferenced (sha256, or temp file names)
	Problems      []Problem
	FirstBadAudit int64 // id of the first audit event that is edited or missing; 0 if none
}

// OK reports whether the store is consistent.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// Check re-hashes every referenced blob and walks the whole audit chain. A row that was
// edited, or removed, is named by its id in FirstBadAudit.
func (s *Store) Check(ctx context.Context) (*CheckReport, error) {
	r := &CheckReport{}
	db := s.db.WithContext(ctx)
	if err := db.Model(&Document{}).Count(&r.Documents).Error; err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	if err := db.Model(&Version{}).Count(&r.Versions).Error; err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	referenced, err := s.referencedBlobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, sha := range referenced {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("store: check: %w", err)
		}
		if err := s.verifyBlob(ctx, sha); err != nil {
			kind := "blob_corrupt"
			if errors.Is(err, ErrNotFound) {
				kind = "blob_missing"
			}
			r.Problems = append(r.Problems, Problem{Kind: kind, Ref: sha, Detail: err.Error()})
			continue
		}
		r.Blobs++
	}
	if r.OrphanBlobs, err = s.orphans(ctx, referenced); err != nil {
		return nil, err
	}
	sealed := map[int64]string{}
	if err := s.checkAudit(ctx, r, sealed); err != nil {
		return nil, err
	}
	if err := s.checkRows(ctx, r, sealed); err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Store) referencedBlobs(ctx context.Context) ([]string, error) {
	var shas []string
	err := s.db.WithContext(ctx).Raw(`SELECT content_sha256 FROM document_versions UNION SELECT content_sha256 FROM attachments ORDER BY 1`).Scan(&shas).Error
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	return shas, nil
}

func (s *Store) verifyBlob(ctx context.Context, sha string) error {
	rc, err := s.OpenBlob(ctx, sha)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, _, err := hashReader(rc)
	if err != nil {
		return err
	}
	if got != sha {
		return fmt.Errorf("%w: blob %s hashes to %s", ErrHashChange, sha, got)
	}
	return nil
}

func (s *Store) orphans(ctx context.Context, referenced []string) ([]string, error) {
	ref := make(map[string]bool, len(referenced))
	for _, sha := range referenced {
		ref[sha] = true
	}
	var out []string
	if s.cfg.BlobsInDB {
		var all []string
		if err := s.db.WithContext(ctx).Raw("SELECT sha256 FROM blobs ORDER BY sha256").Scan(&all).Error; err != nil {
			return nil, fmt.Errorf("store: check: %w", err)
		}
		for _, sha := range all {
			if !ref[sha] {
				out = append(out, sha)
			}
		}
		return out, nil
	}
	err := filepath.WalkDir(s.cfg.BlobDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(path, filepath.Join(s.cfg.BlobDir, tmpDirName)+string(filepath.Separator)) {
			out = append(out, filepath.Join(tmpDirName, name))
		} else if !ref[name] {
			out = append(out, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: check: %w", err)
	}
	return out, nil
}

// RemoveOrphans deletes blobs no row refers to, and stale temp files. Run it only when
// no write is in progress: a blob being stored is an orphan until its row commits.
func (s *Store) RemoveOrphans(ctx context.Context) (int, error) {
	referenced, err := s.referencedBlobs(ctx)
	if err != nil {
		return 0, err
	}
	orphans, err := s.orphans(ctx, referenced)
	if err != nil {
		return 0, err
	}
	for _, o := range orphans {
		if s.cfg.BlobsInDB {
			if err := s.db.WithContext(ctx).Exec("DELETE FROM blobs WHERE sha256 = ?", o).Error; err != nil {
				return 0, fmt.Errorf("store: remove orphan: %w", err)
			}
			continue
		}
		p := filepath.Join(s.cfg.BlobDir, o)
		if !strings.HasPrefix(o, tmpDirName) {
			p = s.blobPath(o)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("store: remove orphan: %w", err)
		}
	}
	return len(orphans), nil
}

// checkAudit walks the chain in id order, in pages so a long trail is not loaded at
// once. The first event whose id is not the next one (removed), whose prev_hash is not
// the previous event's hash, or whose own hash does not match its content (edited) is
// the first bad one.
func (s *Store) checkAudit(ctx context.Context, r *CheckReport, sealed map[int64]string) error {
	const page = 1000
	var (
		prevHash = ""
		want     = int64(1)
	)
	bad := func(id int64, kind, detail string) {
		r.FirstBadAudit = id
		r.Problems = append(r.Problems, Problem{Kind: kind, Ref: fmt.Sprint(id), Detail: detail})
	}
	for {
		var rows []AuditEvent
		if err := s.db.WithContext(ctx).Where("id >= ?", want).Order("id").Limit(page).Find(&rows).Error; err != nil {
			return fmt.Errorf("store: check audit: %w", err)
		}
		for i := range rows {
			e := &rows[i]
			r.AuditEvents++
			switch {
			case e.ID != want:
				bad(want, "audit_missing", fmt.Sprintf("audit event %d is missing (next stored event is %d)", want, e.ID))
			case e.PrevHash != prevHash:
				bad(e.ID, "audit_edited", fmt.Sprintf("audit event %d does not chain to event %d", e.ID, e.ID-1))
			case eventHash(e) != e.Hash:
				bad(e.ID, "audit_edited", fmt.Sprintf("audit event %d was changed after it was written", e.ID))
			}
			if r.FirstBadAudit != 0 {
				return nil
			}
			if row, ok := rowOf(e); ok {
				sealed[*e.DocumentID] = row
			}
			prevHash, want = e.Hash, e.ID+1
		}
		if len(rows) < page {
			break
		}
	}
	var head struct {
		LastID   int64
		LastHash string
	}
	if err := s.db.WithContext(ctx).Raw("SELECT last_id, last_hash FROM audit_head WHERE id = 1").Scan(&head).Error; err != nil {
		return fmt.Errorf("store: check audit: %w", err)
	}
	if head.LastID != want-1 || head.LastHash != prevHash {
		bad(want, "audit_truncated", fmt.Sprintf("audit trail ends at event %d but %d events were written", want-1, head.LastID))
	}
	return nil
}
