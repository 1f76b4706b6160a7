package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/edxml"
	"github.com/kyso-vn/kyso/pkg/store"
)

// TestDocsExport: an issued document becomes an edXML packet whose identifier is the
// document's and whose attachment is the stored PDF byte for byte; a draft is refused.
func TestDocsExport(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(dataDir, "kyso.db"), BlobDir: filepath.Join(dataDir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.7\n(signed document bytes)\n%%EOF\n")
	d, err := st.CreateDocument(ctx, store.NewDocument{Direction: store.Outgoing, AgencyCode: "000.00.00.H43",
		Number: docid.NumberSymbol{Symbol: "UBND-VP"}, Summary: "Về việc thử nghiệm", Type: "CV",
		Content: bytes.NewReader(pdf), Filename: "draft.pdf", Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	draft, err := st.CreateDocument(ctx, store.NewDocument{Direction: store.Outgoing, AgencyCode: "000.00.00.H43",
		Content: bytes.NewReader([]byte("%PDF-1.7 draft")), Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(ctx, d.ID, store.VersionInput{Content: bytes.NewReader(pdf), Actor: "leader"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AssignNumber(ctx, d.ID, time.Date(2025, 3, 5, 9, 0, 0, 0, docid.Vietnam), "clerk"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Issue(ctx, d.ID, store.VersionInput{Content: bytes.NewReader(pdf), Actor: "clerk"}); err != nil {
		t.Fatal(err)
	}
	issued, _ := st.GetDocument(ctx, d.ID)
	st.Close()

	out := filepath.Join(t.TempDir(), "out.edxml")
	if code, msg := kysoExit(t, "docs", "export", strconv.FormatInt(d.ID, 10), "--data-dir", dataDir,
		"--to", "000.00.00.G22", "--place", "Ninh Thuận", "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := edxml.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := m.DocumentID()
	if id.String() != *issued.Identifier {
		t.Errorf("packet identifier %s, document %s", id, *issued.Identifier)
	}
	if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, pdf) {
		t.Error("the attachment is not the stored PDF")
	}
	if code, _ := kysoExit(t, "docs", "export", strconv.FormatInt(draft.ID, 10), "--data-dir", dataDir,
		"--to", "000.00.00.G22", "-o", filepath.Join(t.TempDir(), "draft.edxml")); code != 1 {
		t.Errorf("exporting a draft: exit %d, want 1", code)
	}
}
