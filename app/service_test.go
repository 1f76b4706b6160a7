package app

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/cades"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
	"github.com/kyso-vn/kyso/signer/verify"
)

const agency = "000.00.00.H43"

type fixture struct {
	svc    *Service
	pki    *testpki.TestPKI
	leader hsm.Key
	ctx    context.Context
	// The clients of agency H43: its leader (the leader's certificate bound), its
	// clerk and a document-management system.
	lp, cp, sp Principal
}

// newFixture: a SQLite store, the leader's key on a real SoftHSM2 token (imported
// from the test PKI with pkcs11-tool), the organisation's demo key on the server, and
// a verifier that trusts the test root and asks the real OCSP responder.
func newFixture(t *testing.T) *fixture {
	ctx := context.Background()
	p := testpki.Committed(t)
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(t.TempDir(), "kyso.db"), BlobDir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hsmTok := testenv.NewSoftHSM(t, "leader", "123456")
	keyPEM, err := os.ReadFile(p.Path("leader.key"))
	if err != nil {
		t.Fatal(err)
	}
	hsmTok.ImportKey(t, keyPEM, "leader", "01")
	hsmTok.ImportCert(t, p.Leader.Cert.Raw, "leader", "01")
	leader, err := hsm.Open(ctx, hsmTok.URI("leader", ""), hsm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leader.(io.Closer).Close() })
	org, err := hsm.NewSoftwareDemoKey(p.Org.Key, append([]*x509.Certificate{p.Org.Cert}, p.Org.Chain...)...)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := st.CreateKey(ctx, store.SigningKey{Label: "org", URI: "softkey:demo", Owner: "clerk"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	services := pkitest.StartServices(t, p)
	svc := &Service{
		Store: st,
		Keys:  map[string]*ServerKey{"org": {Name: "org", Key: org, StoreID: sk.ID, URI: "softkey:demo"}},
		Verify: verify.Options{Anchors: []*x509.Certificate{p.Root.Cert},
			Revocation: &pki.Checker{RewriteURL: services.RewriteURL}},
		TempDir: t.TempDir(),
	}
	f := &fixture{svc: svc, pki: p, leader: leader, ctx: ctx}
	f.lp = testClient(t, svc, "leader", RoleLeader, p.Leader.Cert)
	f.cp = testClient(t, svc, "clerk", RoleClerk)
	f.sp = testClient(t, svc, "system", RoleSystem)
	return f
}

// TestIssueFlow: a draft is uploaded, the leader signs it on the token through
// prepare/complete (the server never holds the key), the clerk issues it with the
// seal; the stored PDF carries the identifier in XMP and /Info, and the verifier
// gives TOTAL_PASSED with the clerk's changes allowed.
func TestIssueFlow(t *testing.T) {
	f := newFixture(t)
	issueOn(f, time.Date(2026, 12, 3, 9, 30, 0, 0, vietnam))
	in := testenv.CongVanPDF(t)
	sigPNG, sealPNG := testenv.SignaturePNG(), testenv.SealPNG()
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{
		Content: bytes.NewReader(in), Filename: "draft.pdf", AgencyCode: agency, Summary: "Về việc thử nghiệm", Symbol: "UBND-VP", Type: "CV",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
		Options: SignOptions{Reason: "Phê duyệt", Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: sigPNG}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// the agent's part: sign the digest on the token
	sig, err := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
	// a replay of the same completion is refused
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); !errors.Is(err, ErrConflict) {
		t.Fatalf("replayed completion: %v", err)
	}
	doc, rep, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", Seal: sealPNG, SealSize: 100, By: f.cp})
	if err != nil {
		t.Fatalf("issue: %v (report %+v)", err, rep)
	}
	if doc.Status != store.StatusIssued || doc.Number != 1 || doc.Identifier == nil {
		t.Fatalf("document after issue: %+v", doc)
	}
	content := f.current(t, doc)
	r, err := pdf.Open(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	info := r.Dict(r.Trailer["Info"])
	if got := pdf.DecodeText(info["KysoIdentifier"].(pdf.String)); got != *doc.Identifier {
		t.Errorf("/Info identifier %q, want %q", got, *doc.Identifier)
	}
	cat, _, _ := r.Catalog()
	xmp, _ := mustStream(r, cat["Metadata"]).Decode(1 << 20)
	if !bytes.Contains(xmp, []byte(*doc.Identifier)) || !bytes.Contains(xmp, []byte("<kyso:NumberSymbol>01/UBND-VP</kyso:NumberSymbol>")) ||
		!bytes.Contains(xmp, []byte("<kyso:IssuedAt>2026-12-03T")) {
		t.Errorf("XMP lacks the identifier, the number or the date the page shows:\n%s", xmp)
	}
	final, err := verify.VerifyPDF(f.ctx, bytes.NewReader(content), int64(len(content)), "issued.pdf", f.svc.Verify)
	if err != nil {
		t.Fatal(err)
	}
	if final.Indication != verify.TotalPassed || len(final.Signatures) != 2 {
		t.Fatalf("verify: %s, %d signatures: %s", final.Indication, len(final.Signatures), verdict(final))
	}
	allowed, filled := 0, false
	for _, m := range final.Signatures[0].Modifications {
		if !m.Allowed {
			t.Errorf("the clerk's change %q is reported as not allowed: %s", m.Kind, m.Detail)
		}
		filled = filled || m.Kind == verify.KindFormFilling
		allowed++
	}
	if allowed == 0 || !filled {
		t.Errorf("the clerk's revision is not reported as form filling: %+v", final.Signatures[0].Modifications)
	}
	// the number and date on the page, as the store, /Info and XMP have them
	if doc.NumberSymbol().String() != "01/UBND-VP" || pdf.DecodeText(info["KysoNumber"].(pdf.String)) != "01/UBND-VP" {
		t.Errorf("number %s, /Info %v", doc.NumberSymbol(), info["KysoNumber"])
	}
	checkIssuedPage(t, content, "Số: 01/UBND-VP", "ngày 03 tháng 12 năm 2026")
	checkSealOnPage(t, content, 100)
	checkNumberLocked(t, f, content, pades.BlankNumber)
	t.Logf("issued %s; leader signature modifications: %+v", doc.NumberSymbol(), final.Signatures[0].Modifications)
}

// TestIssueRefusedWhenLeaderSignatureFails: a draft that was never signed, or whose
// signature is broken, is not issued, and takes no number.
func TestIssueRefusedWhenLeaderSignatureFails(t *testing.T) {
	f := newFixture(t)
	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp})
	if err != nil {
		t.Fatal(err)
	}
	// the leader signs with the wrong key: Complete refuses to embed it
	wrong, _ := pades.SignDigest(f.ctx, f.pki.Clerk.Key, pend.Digest, optsFor(t, pend))
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: wrong, By: f.lp}); !errors.Is(err, ErrBadDocument) {
		t.Fatalf("wrong signature: %v", err)
	}
	if _, _, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", By: f.cp}); !errors.Is(err, ErrConflict) {
		t.Fatalf("issuing a draft: %v", err)
	}
	doc, _ := f.svc.Store.GetDocument(f.ctx, pend.DocumentID)
	if doc.Number != 0 {
		t.Errorf("a refused document took number %d", doc.Number)
	}
}

func (f *fixture) current(t *testing.T, d *store.Document) []byte {
	rc, err := f.svc.Store.OpenBlob(f.ctx, d.ContentSHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustStream(r *pdf.Reader, o pdf.Object) *pdf.Stream {
	v, _ := r.Resolve(o)
	s, _ := v.(*pdf.Stream)
	if s == nil {
		return &pdf.Stream{}
	}
	return s
}

// optsFor gives the signer options a Pending names (what the agent does).
func optsFor(t *testing.T, p *Pending) crypto.SignerOpts {
	t.Helper()
	o, err := wire.SignerOpts(p.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestBadInputStoresNothing: a file that is not a PDF, or a damaged one, handed to
// Prepare is refused as ErrBadDocument (fault.BadDocument) before anything is stored.
func TestBadInputStoresNothing(t *testing.T) {
	f := newFixture(t)
	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	cases := []struct {
		name    string
		content []byte
	}{
		{"not a pdf", []byte("hello, world")},
		{"damaged", in[:len(in)/3]},
	}
	for _, c := range cases {
		_, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(c.content), AgencyCode: agency,
			Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, By: f.lp})
		if !errors.Is(err, ErrBadDocument) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	var n int64
	if err := f.svc.Store.DB().Model(&store.Document{}).Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d documents stored (%v)", n, err)
	}
}

// TestSignCAdESAndStore: a detached .p7s of any stream verifies against the content
// with the organisation's certificate; SignAndStore keeps the signed PDF as a new
// draft and then as its next version.
func TestSignCAdESAndStore(t *testing.T) {
	f := newFixture(t)
	content := bytes.Repeat([]byte("Tờ trình số 12/TTr-UBND\n"), 5000)
	var p7s bytes.Buffer
	if err := f.svc.SignCAdES(f.ctx, "org", bytes.NewReader(content), &p7s, pades.LevelBB); err != nil {
		t.Fatal(err)
	}
	res, err := cades.VerifyDetached(p7s.Bytes(), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Signature.Certificate.Equal(f.pki.Org.Cert) || res.Level != "B-B" {
		t.Errorf("signed by %s at %q", res.Signature.Certificate.Subject, res.Level)
	}
	if _, err := cades.VerifyDetached(p7s.Bytes(), bytes.NewReader(content[1:])); err == nil {
		t.Error("the signature verifies over other content")
	}
	if err := f.svc.SignCAdES(f.ctx, "org", bytes.NewReader(content), io.Discard, pades.LevelBT); !errors.Is(err, ErrInvalid) {
		t.Errorf("B-T without a TSA: %v", err)
	}

	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	d, err := f.svc.SignAndStore(f.ctx, "org", bytes.NewReader(in), int64(len(in)), SignOptions{Reason: "Sao y"},
		StoreTarget{AgencyCode: agency, Summary: "Bản sao", Filename: "a.pdf", By: f.sp})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != store.StatusDraft || d.CurrentVersion != 1 {
		t.Fatalf("stored %+v", d)
	}
	first := f.current(t, d)
	d2, err := f.svc.SignAndStore(f.ctx, "org", bytes.NewReader(first), int64(len(first)), SignOptions{},
		StoreTarget{DocumentID: d.ID, By: f.sp})
	if err != nil {
		t.Fatal(err)
	}
	second := f.current(t, d2)
	if d2.ID != d.ID || d2.CurrentVersion != 2 || !bytes.HasPrefix(second, first) {
		t.Fatalf("second version %+v", d2)
	}
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(second), int64(len(second)), "b.pdf", f.svc.Verify)
	if err != nil || rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("verify: %v %s", err, verdict(rep))
	}
	if _, err := f.svc.SignAndStore(f.ctx, "org", bytes.NewReader(in), int64(len(in)), SignOptions{}, StoreTarget{By: f.sp}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no target: %v", err)
	}
}

// TestReceiveUnsigned: an unsigned incoming PDF is returned (kept, not numbered,
// BadDocument) unless the clerk accepts it knowingly; then it is registered with the
// verdict NOT_SIGNED and the audit event says so.
func TestReceiveUnsigned(t *testing.T) {
	f := newFixture(t)
	in := testenv.OnePagePDF("bản chụp công văn")
	req := ReceiveRequest{Content: bytes.NewReader(in), Holder: agency, Issuer: "000.00.00.G22", Actor: "clerk"}
	rc, err := f.svc.Receive(f.ctx, req)
	var re *ReturnedError
	if !errors.Is(err, ErrBadDocument) || !errors.As(err, &re) || rc == nil || rc.Document.Status != store.StatusReturned || rc.Document.RegNumber != nil {
		t.Fatalf("unsigned: %v %+v", err, rc)
	}
	req.Content, req.AcceptIndeterminate = bytes.NewReader(in), true
	rc, err = f.svc.Receive(f.ctx, req)
	if err != nil || rc.Report != nil || rc.Document.RegNumber == nil || *rc.Document.RegNumber != 1 || rc.Document.Verdict != NotSigned {
		t.Fatalf("accepted: %v %+v", err, rc)
	}
	evs, _ := f.svc.Store.AuditEvents(f.ctx, rc.Document.ID, 0)
	if len(evs) == 0 || !strings.Contains(evs[0].Detail, "registered knowingly although NOT_SIGNED") {
		t.Errorf("audit %+v", evs)
	}
}

// TestIssueWithTokenOutside: the clerk issues through prepare/complete, the
// organisation's key outside the server (the agent's token): the prepared request
// already shows the number, the completed document is issued with it, carries the
// identifier and verifies with both signatures; approving it again is a conflict.
func TestIssueWithTokenOutside(t *testing.T) {
	f := newFixture(t)
	issueOn(f, time.Date(2026, 1, 5, 8, 0, 0, 0, vietnam))
	in := testenv.CongVanPDF(t)
	sigPNG, sealPNG := testenv.SignaturePNG(), testenv.SealPNG()
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
		Options: SignOptions{VisiblePage: 1, VisibleRect: [4]float64{300, 100, 480, 160}, VisibleImage: sigPNG}})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: pend.DocumentID, Certificate: f.leader.Certificate(),
		Role: RoleApprove, By: f.lp}); !errors.Is(err, ErrConflict) {
		t.Errorf("approving an approved document: %v", err)
	}
	org := f.pki.Org
	ip, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: pend.DocumentID, Certificate: org.Cert, Chain: org.Chain,
		Role: RoleIssue, By: f.cp, Options: SignOptions{VisibleImage: sealPNG}})
	if err != nil {
		t.Fatal(err)
	}
	if ip.Number != "01/UBND-VP" || ip.Role != RoleIssue {
		t.Fatalf("issue request %+v", ip)
	}
	isig, _ := pades.SignDigest(f.ctx, org.Key, ip.Digest, optsFor(t, ip))
	done, err := f.svc.Complete(f.ctx, ip.ID, CompleteRequest{Signature: isig, By: f.cp})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := f.svc.Store.GetDocument(f.ctx, pend.DocumentID)
	if doc.Status != store.StatusIssued || doc.Number != 1 || doc.Identifier == nil || done.Version != doc.CurrentVersion {
		t.Fatalf("after completion: %+v", doc)
	}
	content := f.current(t, doc)
	if !bytes.Contains(content, []byte(*doc.Identifier)) {
		t.Error("the issued PDF lacks its identifier")
	}
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(content), int64(len(content)), "issued.pdf", f.svc.Verify)
	if err != nil || rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("verify: %v %s", err, verdict(rep))
	}
	vs, _ := f.svc.Store.Versions(f.ctx, doc.ID)
	if last := vs[len(vs)-1]; last.SignatureCount != 2 {
		t.Errorf("the issued version counts %d signatures", last.SignatureCount)
	}
	checkIssuedPage(t, content, "Số: 01/UBND-VP", "ngày 05 tháng 01 năm 2026")
}

func TestVerifyPDFRefusals(t *testing.T) {
	f := newFixture(t)
	in, _ := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "plain/lo-writer-trivial.pdf"))
	for name, b := range map[string][]byte{"unsigned": in, "not a pdf": []byte("hello")} {
		if _, err := f.svc.VerifyPDF(f.ctx, bytes.NewReader(b), int64(len(b)), name, time.Time{}); !errors.Is(err, ErrBadDocument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
