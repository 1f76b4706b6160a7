package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/docid"
)

func approvedDraft(t *testing.T, s *Store, agency docid.AgencyCode, symbol string) *Document {
	t.Helper()
	ctx := context.Background()
	d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Type: "QĐ", Summary: "Về việc phê duyệt kế hoạch",
		AgencyCode: agency, Number: docid.NumberSymbol{Symbol: symbol}, Content: strings.NewReader("draft " + symbol),
		Filename: "draft.pdf", MediaType: "application/pdf", Actor: "drafter"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader(fmt.Sprintf("leader-signed %d", d.ID)),
		Filename: "approved.pdf", Signatures: json.RawMessage(`[{"signer":"leader"}]`), SignatureCount: 1, Actor: "leader",
		KeyURI: "pkcs11:token=leader;object=sign"}); err != nil {
		t.Fatal(err)
	}
	return d
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestIssueWorkflow(t *testing.T) {
	eachBackend(t, true, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		clock := newClock(t0)
		s := openStore(t, cfg, clock)

		d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, Type: "CV", Summary: "Về việc triển khai chữ ký số",
			AgencyCode: "000.00.00.H43", Number: docid.NumberSymbol{Symbol: "UBND-VP"}, Content: strings.NewReader("draft"),
			Filename: "cv.pdf", Actor: "drafter", Urgency: UrgencyUrgent})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != StatusDraft || d.Identifier != nil || d.ContentSHA256 != sha("draft") {
			t.Fatalf("new draft: %+v", d)
		}
		if _, err := s.AssignNumber(ctx, d.ID, t0, "clerk"); !errors.Is(err, ErrConflict) {
			t.Errorf("numbering a draft: %v, want ErrConflict", err)
		}
		if _, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader("x"), Actor: "clerk"}); !errors.Is(err, ErrConflict) {
			t.Errorf("issuing a draft: %v, want ErrConflict", err)
		}
		if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader("leader-signed"), SignatureCount: 1, Actor: "leader"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader("x"), Actor: "clerk"}); !errors.Is(err, ErrConflict) {
			t.Errorf("issuing before numbering: %v, want ErrConflict", err)
		}
		d, err = s.AssignNumber(ctx, d.ID, t0, "clerk")
		if err != nil {
			t.Fatal(err)
		}
		if want := "000.00.00.H43,2021/03/05,01/UBND-VP"; d.Identifier == nil || *d.Identifier != want {
			t.Fatalf("identifier %v, want %s", d.Identifier, want)
		}
		if d.NumberSymbol().Line() != "Số: 01/UBND-VP" || !d.IssuedAt.Equal(t0) {
			t.Errorf("number line %q issued %v", d.NumberSymbol().Line(), d.IssuedAt)
		}
		again, err := s.AssignNumber(ctx, d.ID, t0.Add(time.Hour), "clerk")
		if err != nil || again.Number != 1 {
			t.Errorf("second AssignNumber: %v number %d; it must keep the first number", err, again.Number)
		}
		v, err := s.Issue(ctx, d.ID, VersionInput{Content: strings.NewReader("issued pdf"), Filename: "cv-issued.pdf",
			Signatures: json.RawMessage(`[{"signer":"leader"},{"signer":"org"}]`), SignatureCount: 2, Actor: "clerk", KeyURI: "pkcs11:token=org"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Seq != 3 || v.SHA256 != sha("issued pdf") || v.Size != int64(len("issued pdf")) {
			t.Errorf("issued version %+v", v)
		}
		got, err := s.GetDocument(ctx, d.ID)
		if err != nil || got.Status != StatusIssued || got.CurrentVersion != 3 || got.Urgency != UrgencyUrgent {
			t.Fatalf("after issue: %+v %v", got, err)
		}

		rc, ver, err := s.Download(ctx, d.ID, 0, "reader")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(body) != "issued pdf" || ver.Seq != 3 {
			t.Errorf("download: %q %v", body, err)
		}
		vs, _ := s.Versions(ctx, d.ID)
		if len(vs) != 3 || vs[0].SHA256 != sha("draft") || vs[2].Signatures != `[{"signer":"leader"},{"signer":"org"}]` {
			t.Errorf("versions %+v", vs)
		}
		if _, err := s.AddAttachment(ctx, d.ID, "phu-luc.pdf", "application/pdf", strings.NewReader("annex"), "clerk"); err != nil {
			t.Fatal(err)
		}
		events, _ := s.AuditEvents(ctx, d.ID, 0)
		var actions []string
		for _, e := range events {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, ",") != "create,approve,number,issue,download,version" {
			t.Errorf("audit actions %v", actions)
		}
		if events[3].KeyURI != "pkcs11:token=org" || events[3].DocumentHash != sha("issued pdf") {
			t.Errorf("issue event %+v", events[3])
		}

		rep, err := s.Check(ctx)
		if err != nil || !rep.OK() || rep.Blobs != 4 || rep.AuditEvents != int64(len(events)) {
			t.Fatalf("check: %+v %v", rep, err)
		}
		if err := s.DeleteDocument(ctx, d.ID, "admin", "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetDocument(ctx, d.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted document: %v", err)
		}
		rep, err = s.Check(ctx)
		// Four blobs of the deleted document, and on disk the one of the refused Issue
		// calls: a file is published before the transaction that refused it, while a
		// blob row rolls back with it.
		orphans := 5
		if cfg.BlobsInDB {
			orphans = 4
		}
		if err != nil || !rep.OK() || len(rep.OrphanBlobs) != orphans {
			t.Fatalf("check after delete: %+v %v", rep, err)
		}
		if n, err := s.RemoveOrphans(ctx); err != nil || n != orphans {
			t.Errorf("RemoveOrphans = %d, %v", n, err)
		}
	})
}

func TestIncomingRegistration(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		in := func(id string, received time.Time) (*Document, error) {
			return s.CreateDocument(ctx, NewDocument{Direction: Incoming, Type: "CV", Summary: "Công văn " + id,
				AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43", Identifier: id, ReceivedAt: received,
				Content: strings.NewReader(id), Actor: "clerk"})
		}
		a, err := in("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", t0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := in("000.00.00.G22,2015/09/30,7817/VPCP-TTĐT", t0)
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != StatusReceived || *a.RegNumber != 1 || *b.RegNumber != 2 || *a.Year != 2021 {
			t.Errorf("arrival numbers %d %d year %d", *a.RegNumber, *b.RegNumber, *a.Year)
		}
		if a.Number != 7816 || a.Symbol != "VPCP-TTĐT" || a.IssuedAt.Format("2006-01-02") != "2015-09-29" {
			// 30 September 00:00 in Vietnam is 29 September in UTC, as stored.
			t.Errorf("sender's number and date from the identifier: %d %s %v", a.Number, a.Symbol, a.IssuedAt)
		}
		if _, err := in("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", t0); !errors.Is(err, ErrConflict) {
			t.Errorf("same document received twice: %v, want ErrConflict", err)
		}
		if _, err := in("000.00.00.G22,2015/09/30,7816/vpcp", t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad identifier: %v, want ErrInvalid", err)
		}
		// The duplicate took no arrival number: the next one is 3.
		c, err := in("000.00.00.G22,2015/10/01,01/VPCP-TTĐT", t0)
		if err != nil || *c.RegNumber != 3 {
			t.Fatalf("after a refused duplicate: %v %v", c, err)
		}
		got, err := s.FindByIdentifier(ctx, "000.00.00.G22,2015/09/30,7817/VPCP-TTĐT", "")
		if err != nil || got.ID != b.ID {
			t.Errorf("FindByIdentifier: %v %v", got, err)
		}
		got, err = s.FindByNumber(ctx, *a.RegisterID, 2021, 3)
		if err != nil || got.ID != c.ID {
			t.Errorf("FindByNumber: %v %v", got, err)
		}
		if _, err := s.FindByNumber(ctx, *a.RegisterID, 2021, 4); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing number: %v", err)
		}
	})
}

func TestSearch(t *testing.T) {
	eachBackend(t, false, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, newClock(t0))
		mk := func(agency docid.AgencyCode, summary string, issued time.Time, num int) *Document {
			d, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, Type: "CV", Summary: summary, AgencyCode: agency,
				HolderCode: "000.00.00.H43", Number: docid.NumberSymbol{Number: num, Symbol: "UBND-VP"}, IssuedAt: issued,
				Content: strings.NewReader(summary), Actor: "clerk"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		jan := time.Date(2021, 1, 10, 9, 0, 0, 0, docid.Vietnam)
		a := mk("000.00.00.H41", "Kế hoạch chuyển đổi số 100%_năm", jan, 5)
		b := mk("000.00.00.H14", "Báo cáo chữ ký số", jan.AddDate(0, 1, 0), 6)
		c := mk("000.00.00.H41", "Giấy mời họp", jan.AddDate(0, 2, 0), 7)
		ids := func(ds []Document) string {
			var out []string
			for _, d := range ds {
				out = append(out, fmt.Sprint(d.ID))
			}
			return strings.Join(out, ",")
		}
		str := func(ds ...*Document) string {
			var out []string
			for _, d := range ds {
				out = append(out, fmt.Sprint(d.ID))
			}
			return strings.Join(out, ",")
		}
		tests := []struct {
			name string
			q    Query
			want string
		}{
			{"agency", Query{AgencyCode: "000.00.00.H41"}, str(c, a)},
			{"number", Query{Number: 6}, str(b)},
			{"identifier", Query{Identifier: *a.Identifier}, str(a)},
			{"date range", Query{IssuedFrom: jan.AddDate(0, 1, 0), IssuedTo: jan.AddDate(0, 2, 0)}, str(b)},
			{"date range open end", Query{IssuedFrom: jan.Add(time.Second)}, str(c, b)},
			{"text ascii case", Query{Text: "GI"}, str(c)},
			{"text vietnamese", Query{Text: "chữ ký số"}, str(b)},
			{"text vietnamese upper case", Query{Text: "CHỮ KÝ"}, str(b)},
			{"text without diacritics", Query{Text: "giay moi"}, str(c)},
			{"text đ as d", Query{Text: "chuyen doi so"}, str(a)},
			{"text wildcards are literal", Query{Text: "100%_"}, str(a)},
			{"text no match", Query{Text: "%x"}, ""},
			{"limit", Query{Limit: 1}, str(c)},
			{"offset", Query{Limit: 1, Offset: 2}, str(a)},
			{"direction and status", Query{Direction: Incoming, Status: StatusReceived, Year: 2021}, str(c, b, a)},
			{"nothing outgoing", Query{Direction: Outgoing}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Search(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if ids(got) != tt.want {
					t.Errorf("got %s, want %s", ids(got), tt.want)
				}
			})
		}
	})
}

func TestBlobsAreContentAddressedAndVerified(t *testing.T) {
	eachBackend(t, true, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		s := openStore(t, cfg, nil)
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		d, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H43",
			Content: bytes.NewReader(big), Actor: "clerk"})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(big)
		if d.ContentSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatal("content hash")
		}
		// The same content again (received by another agency) is stored once.
		if _, err := s.CreateDocument(ctx, NewDocument{Direction: Incoming, AgencyCode: "000.00.00.G22", HolderCode: "000.00.00.H41",
			Content: bytes.NewReader(big), Actor: "clerk"}); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Check(ctx)
		if err != nil || !rep.OK() || rep.Blobs != 1 || len(rep.OrphanBlobs) != 0 {
			t.Fatalf("check: %+v %v", rep, err)
		}
		// Change one byte of the stored content behind the store's back.
		if cfg.BlobsInDB {
			err = s.DB().Exec("UPDATE blobs SET data = ? WHERE sha256 = ?", append([]byte("X"), big[1:]...), d.ContentSHA256).Error
		} else {
			err = writeByte(s.blobPath(d.ContentSHA256), 'X')
		}
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.OpenBlob(ctx, d.ContentSHA256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(rc); !errors.Is(err, ErrHashChange) {
			t.Errorf("reading altered content: %v, want ErrHashChange", err)
		}
		rc.Close()
		rep, err = s.Check(ctx)
		if err != nil || rep.OK() || rep.Problems[0].Kind != "blob_corrupt" || rep.Problems[0].Ref != d.ContentSHA256 {
			t.Fatalf("check after tampering: %+v %v", rep, err)
		}
	})
}

func writeByte(path string, b byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte{b}, 0)
	return err
}

func TestCreateDocumentValidation(t *testing.T) {
	s := openStore(t, backends[0].cfg(t), nil)
	ctx := context.Background()
	good := func() NewDocument {
		return NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Content: strings.NewReader("x"), Actor: "a"}
	}
	tests := []struct {
		name string
		edit func(*NewDocument)
	}{
		{"no actor", func(n *NewDocument) { n.Actor = "" }},
		{"no content", func(n *NewDocument) { n.Content = nil }},
		{"bad direction", func(n *NewDocument) { n.Direction = "up" }},
		{"outgoing not draft", func(n *NewDocument) { n.Status = StatusIssued }},
		{"bad agency", func(n *NewDocument) { n.AgencyCode = "h43" }},
		{"bad symbol", func(n *NewDocument) { n.Number.Symbol = "ubnd vp" }},
		{"bad urgency", func(n *NewDocument) { n.Urgency = "soon" }},
		{"bad signatures json", func(n *NewDocument) { n.Signatures = json.RawMessage("{") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nd := good()
			tt.edit(&nd)
			if _, err := s.CreateDocument(ctx, nd); !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := s.CreateDocument(ctx, good()); err != nil {
		t.Errorf("the good document: %v", err)
	}
}

// TestVersionRows: the first version (CreateDocument) and every later one (AddVersion,
// Approve) record the same things of their content: its hash and size, file name,
// media type, signatures summary (the empty list when none is given), signature count,
// author and time. A summary that is not JSON is refused before anything is stored.
func TestVersionRows(t *testing.T) {
	clock := newClock(t0)
	s := openStore(t, backends[0].cfg(t), clock)
	ctx := context.Background()
	d, err := s.CreateDocument(ctx, NewDocument{Direction: Outgoing, AgencyCode: "000.00.00.H43", Content: strings.NewReader("v1"),
		Filename: "v1.pdf", MediaType: "application/pdf", Actor: "drafter"})
	if err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	clock.Set(t1)
	if _, err := s.AddVersion(ctx, d.ID, VersionInput{Content: strings.NewReader("v2"), Filename: "v2.pdf", MediaType: "application/pdf",
		Signatures: json.RawMessage(`[{"signer":"leader"}]`), SignatureCount: 1, Actor: "leader"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, d.ID, VersionInput{Content: strings.NewReader("v3"), Signatures: json.RawMessage("{"), Actor: "leader"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a version with a summary that is not JSON: %v, want ErrInvalid", err)
	}
	vs, err := s.Versions(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Version{
		{DocumentID: d.ID, Seq: 1, SHA256: sha("v1"), Size: 2, Filename: "v1.pdf", MediaType: "application/pdf", Signatures: "[]", CreatedBy: "drafter"},
		{DocumentID: d.ID, Seq: 2, SHA256: sha("v2"), Size: 2, Filename: "v2.pdf", MediaType: "application/pdf", Signatures: `[{"signer":"leader"}]`,
			SignatureCount: 1, CreatedBy: "leader"},
	}
	if len(vs) != len(want) {
		t.Fatalf("%d versions, want %d: %+v", len(vs), len(want), vs)
	}
	for i, w := range want {
		got := vs[i]
		at := []time.Time{t0, t1}[i]
		if !got.CreatedAt.Equal(at) {
			t.Errorf("version %d created at %v, want %v", w.Seq, got.CreatedAt, at)
		}
		got.ID, got.CreatedAt = 0, time.Time{}
		if got != w {
			t.Errorf("version %d:\n got %+v\nwant %+v", w.Seq, got, w)
		}
	}
	got, err := s.GetDocument(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusDraft || got.CurrentVersion != 2 {
		t.Errorf("after the refused approval the document is %s at version %d", got.Status, got.CurrentVersion)
	}
}
