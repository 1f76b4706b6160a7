package app

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

// countingKey is a real key that counts the signatures asked of it.
type countingKey struct {
	hsm.Key
	n *atomic.Int64
}

func (k countingKey) SignContext(ctx context.Context, d []byte, o crypto.SignerOpts) ([]byte, error) {
	k.n.Add(1)
	return k.Key.SignContext(ctx, d, o)
}

// draft stores a công văn draft of agency H43 and returns its id.
func (f *fixture) draft(t *testing.T, content []byte) int64 {
	t.Helper()
	d, err := f.svc.Store.CreateDocument(f.ctx, store.NewDocument{Direction: store.Outgoing, AgencyCode: agency,
		Number: docid.NumberSymbol{Symbol: "UBND-VP"}, Summary: "Về việc thử nghiệm", Content: bytes.NewReader(content),
		Filename: "draft.pdf", MediaType: "application/pdf", Actor: "chuyên viên"})
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// approve has the fixture's leader approve document id on the SoftHSM2 token.
func (f *fixture) approve(t *testing.T, id int64, chain []*x509.Certificate) {
	t.Helper()
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: id, Certificate: f.leader.Certificate(), Chain: chain,
		Role: RoleApprove, By: f.lp, Options: SignOptions{Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: testenv.SignaturePNG()}}})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
}

// actions lists the audit actions recorded for document id.
func (f *fixture) actions(t *testing.T, id int64) []string {
	t.Helper()
	evs, err := f.svc.Store.AuditEvents(f.ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// deadURL is a loopback URL nobody answers.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestSignerCertificateCheckedBeforeSigning (issue #17): an approval with a leader's
// certificate that is expired, not yet valid, revoked, without a chain to the anchors,
// or whose revocation cannot be checked is refused at prepare — before any digest is
// handed out, anything stored or any audit event of a signature — with a code and the
// reason in Vietnamese and English; an issue with an expired organisation key is
// refused before the key signs or a number is planned.
func TestSignerCertificateCheckedBeforeSigning(t *testing.T) {
	f := newFixture(t)
	p := f.pki
	now := time.Now()
	future := p.PKI().Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Kyso TEST future — Đỗ Văn G"},
		NotBefore: now.AddDate(0, 1, 0), NotAfter: now.AddDate(2, 0, 0)})
	dead := deadURL(t)
	unreachable, err := p.MintAt(t.TempDir(), testpki.URLs{OCSP: dead + "/ocsp", SubCRL: dead + "/sub.crl", RootCRL: dead + "/root.crl"})
	if err != nil {
		t.Fatal(err)
	}
	content := testenv.CongVanPDF(t)
	cases := []struct {
		name   string
		cert   *x509.Certificate
		chain  []*x509.Certificate
		kind   fault.Kind
		code   string
		vi, en string
	}{
		{"expired", p.Expired.Cert, p.Expired.Chain, fault.Forbidden, CodeCertExpired, "đã hết hạn ngày 31/12/2023", "expired on 2023-12-31"},
		{"not yet valid", future.Cert, future.Chain, fault.Forbidden, CodeCertNotYetValid, "chưa có hiệu lực", "is not valid yet"},
		{"revoked", p.Revoked.Cert, p.Revoked.Chain, fault.Forbidden, CodeCertRevoked, "đã bị thu hồi ngày 01/06/2025", "was revoked on 2025-06-01"},
		{"no chain", p.Leader.Cert, nil, fault.Forbidden, CodeCertNoChain, "thiếu chứng thư của CA cấp \"" + p.Sub.Cert.Subject.String() + "\"",
			"the issuer certificate \"" + p.Sub.Cert.Subject.String() + "\" is missing"},
		{"revocation unreachable", unreachable.Leader.Cert, unreachable.Leader.Chain, fault.Unavailable, CodeCertRevocationUnknown,
			"Không kiểm tra được tình trạng thu hồi", "could not be checked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := f.draft(t, content)
			lp := f.lp
			if !c.cert.Equal(p.Leader.Cert) {
				lp = testClient(t, f.svc, "leader-"+strings.ReplaceAll(c.name, " ", "-"), RoleLeader, c.cert)
			}
			_, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: id, Certificate: c.cert, Chain: c.chain, Role: RoleApprove, By: lp})
			if fault.KindOf(err) != c.kind || fault.CodeOf(err) != c.code {
				t.Fatalf("prepare: kind %v code %q (%v), want %v %q", fault.KindOf(err), fault.CodeOf(err), err, c.kind, c.code)
			}
			if vi, en := Localized(err, "vi"), Localized(err, "en"); !strings.Contains(vi, c.vi) || !strings.Contains(en, c.en) || fault.DetailOf(err) != vi {
				t.Errorf("refusal texts:\n vi %q\n en %q\nwant %q and %q", vi, en, c.vi, c.en)
			}
			d, _ := f.svc.Store.GetDocument(f.ctx, id)
			if d.Status != store.StatusDraft || d.CurrentVersion != 1 {
				t.Errorf("document after the refusal: %s version %d", d.Status, d.CurrentVersion)
			}
			if got := f.actions(t, id); len(got) != 1 || got[0] != store.ActionCreate {
				t.Errorf("audit after the refusal: %v", got)
			}
			var pending int64
			f.svc.Store.DB().Model(&store.PendingSignature{}).Where("document_id = ?", id).Count(&pending)
			if pending != 0 {
				t.Errorf("%d pending signatures were prepared", pending)
			}
		})
	}

	// issuing with an expired organisation certificate: the key is never asked
	id := f.draft(t, content)
	f.approve(t, id, p.Leader.Chain)
	orgName := pkix.Name{Country: []string{"VN"}, Organization: []string{testpki.OrgName}, CommonName: testpki.OrgName,
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: testpki.OIDOrganizationIdentifier, Value: testpki.OrgCode}}}
	old := p.PKI().Issue(t, testpki.Spec{Kind: testpki.Organisation, Subject: orgName, NotBefore: testpki.ExpiredNotBefore, NotAfter: testpki.ExpiredNotAfter})
	soft, err := hsm.NewSoftwareDemoKey(old.Key, old.ChainWithLeaf()...)
	if err != nil {
		t.Fatal(err)
	}
	var signed atomic.Int64
	f.svc.Keys["old-org"] = &ServerKey{Name: "old-org", Key: countingKey{Key: soft, n: &signed}, URI: "softkey:old"}
	before := f.actions(t, id)
	_, _, err = f.svc.Issue(f.ctx, IssueRequest{DocumentID: id, KeyName: "old-org", By: f.cp})
	if fault.CodeOf(err) != CodeCertExpired || !strings.Contains(Localized(err, "vi"), "đã hết hạn") {
		t.Fatalf("issue with an expired organisation certificate: %v", err)
	}
	d, _ := f.svc.Store.GetDocument(f.ctx, id)
	if signed.Load() != 0 || d.Status != store.StatusApproved || d.RegNumber != nil || len(f.actions(t, id)) != len(before) {
		t.Errorf("after the refusal: %d signatures, %s, number %v, audit %v (was %v)", signed.Load(), d.Status, d.RegNumber, f.actions(t, id), before)
	}
}

// TestReturnToDraftThenApproveAgain: an approved document sent back to draft (by the
// agency's clerk, with a reason, audited) is a draft again whose current content is
// what the leader had approved over, its approval gone; it cannot be issued until
// approved afresh, after which it is issued and verifies TOTAL_PASSED. Only approved
// documents return, and only for the agency's leader or clerk.
func TestReturnToDraftThenApproveAgain(t *testing.T) {
	f := newFixture(t)
	issueOn(f, time.Date(2026, 12, 3, 9, 30, 0, 0, vietnam))
	content := testenv.CongVanPDF(t)
	id := f.draft(t, content)
	if _, err := f.svc.ReturnToDraft(f.ctx, f.cp, id, LifecycleRequest{Reason: "x"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("returning a draft: %v", err)
	}
	f.approve(t, id, f.pki.Leader.Chain)
	approved, _ := f.svc.Store.GetDocument(f.ctx, id)
	if _, err := f.svc.ReturnToDraft(f.ctx, f.sp, id, LifecycleRequest{Reason: "x"}); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("a system returning a document: %v", err)
	}
	if _, err := f.svc.ReturnToDraft(f.ctx, f.cp, id, LifecycleRequest{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no reason: %v", err)
	}
	// the clerk has prepared the issue on the organisation's token: number 01 is reserved
	ip, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: id, Certificate: f.pki.Org.Cert, Chain: f.pki.Org.Chain,
		Role: RoleIssue, By: f.cp, Options: SignOptions{VisibleImage: testenv.SealPNG()}})
	if err != nil || ip.Number != "01/UBND-VP" {
		t.Fatalf("prepare the issue: %v %+v", err, ip)
	}
	rec, err := f.svc.ReturnToDraft(f.ctx, f.cp, id, LifecycleRequest{Reason: "Sửa lại trích yếu"})
	if err != nil {
		t.Fatal(err)
	}
	var number struct {
		Number int
		Status string
		Reason string
	}
	f.svc.Store.DB().Table("register_numbers").Where("document_id = ?", id).Take(&number)
	if ps, _ := f.svc.Store.GetPending(f.ctx, ip.ID); ps.Status != store.PendingCancelled || number.Number != 1 ||
		number.Status != store.NumberVoided || !strings.Contains(number.Reason, "returned to draft: Sửa lại trích yếu") {
		t.Errorf("the prepared issue after return to draft: %s; number %+v", ps.Status, number)
	}
	if rec.Status != string(store.StatusDraft) || rec.CurrentVersion != 3 || len(rec.Versions) != 3 ||
		rec.ContentSHA256 != rec.Versions[0].SHA256 || rec.Versions[1].SHA256 != approved.ContentSHA256 {
		t.Fatalf("after return to draft: %+v", rec)
	}
	evs, _ := f.svc.Store.AuditEvents(f.ctx, id, 0)
	last := evs[len(evs)-1]
	if last.Action != store.ActionReturnToDraft || !strings.Contains(last.Detail, "Sửa lại trích yếu") || !strings.Contains(last.Actor, "clerk") {
		t.Errorf("audit: %+v", last)
	}
	if _, _, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: id, KeyName: "org", By: f.cp}); !errors.Is(err, ErrConflict) {
		t.Fatalf("issuing a document returned to draft: %v", err)
	}
	f.approve(t, id, f.pki.Leader.Chain)
	doc, _, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: id, KeyName: "org", Seal: testenv.SealPNG(), By: f.cp})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Number != 2 {
		t.Errorf("issued as number %d, want 02 after the voided 01", doc.Number)
	}
	issued := f.current(t, doc)
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(issued), int64(len(issued)), "issued.pdf", f.svc.Verify)
	if err != nil || rep.Indication != verify.TotalPassed || len(rep.Signatures) != 2 {
		t.Fatalf("verify after approving again: %v %s", err, verdict(rep))
	}
	if _, err := f.svc.ReturnToDraft(f.ctx, f.lp, id, LifecycleRequest{Reason: "x"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("returning an issued document: %v", err)
	}
}

// TestRecallAndReplace: issued documents recalled or replaced stay issued and stored;
// the record, the search and the public lookup say so, the replacement links both
// ways, and each is audited. Only the issuing agency's leader or clerk may.
func TestRecallAndReplace(t *testing.T) {
	f := newFixture(t)
	issueOn(f, time.Date(2026, 12, 3, 9, 30, 0, 0, vietnam))
	f.svc.PublicRegisters = []string{agency}
	content := testenv.CongVanPDF(t)
	var ids []int64
	for range 3 {
		id := f.draft(t, content)
		f.approve(t, id, f.pki.Leader.Chain)
		if _, _, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: id, KeyName: "org", By: f.cp}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	a, b, c := ids[0], ids[1], ids[2]
	other := testClientOf(t, f.svc, "other-clerk", RoleClerk, []string{"000.00.00.H41"}, "")
	if _, err := f.svc.Recall(f.ctx, other, a, LifecycleRequest{Reason: "x"}); fault.KindOf(err) != fault.NotFound {
		t.Errorf("another agency's clerk recalling: %v", err)
	}
	if _, err := f.svc.Recall(f.ctx, f.sp, a, LifecycleRequest{Reason: "x"}); fault.KindOf(err) != fault.Forbidden {
		t.Errorf("a system recalling: %v", err)
	}
	rec, err := f.svc.Replace(f.ctx, f.cp, a, LifecycleRequest{ReplacedBy: b, Reason: "Thay đổi thời hạn", Decision: "Văn bản số 02/UBND-VP"})
	if err != nil {
		t.Fatal(err)
	}
	bd, _ := f.svc.Store.GetDocument(f.ctx, b)
	if w := rec.Withdrawn; rec.Status != string(store.StatusIssued) || w == nil || w.Kind != store.WithdrawReplaced || w.ReplacedBy != b ||
		w.ReplacedByIdentifier != *bd.Identifier || w.ReplacedByNumber != "02/UBND-VP" {
		t.Fatalf("replaced record: %+v %+v", rec, rec.Withdrawn)
	}
	if rb, _ := f.svc.GetDocument(f.ctx, f.cp, b); len(rb.Replaces) != 1 || rb.Replaces[0] != a || rb.Withdrawn != nil {
		t.Errorf("the replacing document: replaces %v, withdrawn %+v", rb.Replaces, rb.Withdrawn)
	}
	if _, err := f.svc.Recall(f.ctx, f.lp, a, LifecycleRequest{Reason: "x"}); !errors.Is(err, ErrConflict) {
		t.Errorf("recalling a replaced document: %v", err)
	}
	if _, err := f.svc.Recall(f.ctx, f.lp, c, LifecycleRequest{Reason: "Ban hành sai thẩm quyền", Decision: "Quyết định số 12/QĐ-UBND"}); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.SearchDocuments(f.ctx, f.cp, DocumentQuery{Status: "issued"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[int64]string{}
	for _, r := range list {
		if r.Withdrawn != nil {
			kinds[r.ID] = r.Withdrawn.Kind
		}
	}
	if len(list) != 3 || kinds[a] != store.WithdrawReplaced || kinds[c] != store.WithdrawRecalled || kinds[b] != "" {
		t.Errorf("search: %d issued, withdrawals %v", len(list), kinds)
	}
	ad, _ := f.svc.Store.GetDocument(f.ctx, a)
	cd, _ := f.svc.Store.GetDocument(f.ctx, c)
	pa, err := f.svc.PublicDocument(f.ctx, *ad.Identifier, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if pa.Withdrawn == nil || pa.Withdrawn.Kind != store.WithdrawReplaced || pa.Withdrawn.ReplacedBy != *bd.Identifier || pa.Withdrawn.ReplacedByNumber != "02/UBND-VP" {
		t.Errorf("public lookup of the replaced document: %+v", pa.Withdrawn)
	}
	pc, err := f.svc.PublicDocument(f.ctx, *cd.Identifier, time.Now())
	if err != nil || pc.Withdrawn == nil || pc.Withdrawn.Kind != store.WithdrawRecalled || pc.Withdrawn.Decision != "Quyết định số 12/QĐ-UBND" {
		t.Errorf("public lookup of the recalled document: %v %+v", err, pc.Withdrawn)
	}
	for _, id := range []int64{a, c} {
		acts := f.actions(t, id)
		if last := acts[len(acts)-1]; last != store.ActionRecall && last != store.ActionReplace {
			t.Errorf("document %d: audit %v", id, acts)
		}
		vs, _ := f.svc.Store.Versions(f.ctx, id)
		if d, _ := f.svc.Store.GetDocument(f.ctx, id); d.Status != store.StatusIssued || len(vs) != 3 {
			t.Errorf("document %d after withdrawal: %s, %d versions", id, d.Status, len(vs))
		}
	}
}

// TestLeafOnlyChainEmbedded (issue #19): a token holding only the leader's leaf still
// approves when the configuration's chain material holds the issuer; the approval
// embeds the chain, so a verifier that has only the root finds it in the document.
func TestLeafOnlyChainEmbedded(t *testing.T) {
	f := newFixture(t)
	f.svc.Verify.Intermediates = []*x509.Certificate{f.pki.Sub.Cert}
	id := f.draft(t, testenv.CongVanPDF(t))
	f.approve(t, id, nil)
	d, _ := f.svc.Store.GetDocument(f.ctx, id)
	content := f.current(t, d)
	o := f.svc.Verify
	o.Intermediates = nil
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(content), int64(len(content)), "approved.pdf", o)
	if err != nil || rep.Indication != verify.TotalPassed {
		t.Fatalf("verify without the configuration's chain: %v %s", err, verdict(rep))
	}
	if !bytes.Contains(bytes.ToLower(content), []byte(hex.EncodeToString(f.pki.Sub.Cert.Raw))) {
		t.Error("the approval does not embed the sub CA")
	}
}

// TestSignEmbedsConfiguredChain (issue #19): a server key configured with its leaf
// only signs with the chain the configuration's chain material completes, so the
// signature verifies with the root alone.
func TestSignEmbedsConfiguredChain(t *testing.T) {
	p := testpki.Committed(t)
	leaf, err := hsm.NewSoftwareDemoKey(p.Org.Key, p.Org.Cert)
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{Keys: map[string]*ServerKey{"org": {Name: "org", Key: leaf}},
		Verify: verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Intermediates: []*x509.Certificate{p.Sub.Cert}, Offline: true}}
	in := testenv.OnePagePDF("Kyso")
	var out bytes.Buffer
	if err := svc.SignPDF(context.Background(), "org", bytes.NewReader(in), int64(len(in)), &out, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.VerifyPDF(context.Background(), bytes.NewReader(out.Bytes()), int64(out.Len()), "signed.pdf",
		verify.Options{Anchors: []*x509.Certificate{p.Root.Cert}, Offline: true})
	if err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].SubIndication == verify.NoCertificateChainFound {
		t.Fatalf("verify with the root alone: %v %s", err, verdict(rep))
	}
}

// TestChainFetchedByAIA (issue #19): a leader's certificate that comes alone, whose CA
// is neither given nor configured, finds its issuer at its AIA caIssuers URL; the
// approval embeds it and verifies with the root alone.
func TestChainFetchedByAIA(t *testing.T) {
	f := newFixture(t)
	p := f.pki
	var fetched atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(p.Sub.Cert.Raw)
	}))
	defer srv.Close()
	l := p.Leader.Cert
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: l.Subject, NotBefore: l.NotBefore, NotAfter: l.NotAfter,
		KeyUsage: l.KeyUsage, ExtKeyUsage: l.ExtKeyUsage, OCSPServer: l.OCSPServer, CRLDistributionPoints: l.CRLDistributionPoints,
		IssuingCertificateURL: []string{srv.URL + "/sub-ca.cer"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Sub.Cert, p.Leader.Key.Public(), p.Sub.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f.svc.Verify.Issuers = &pki.AIAFetcher{AllowPrivate: true}
	lp := testClient(t, f.svc, "leader-aia", RoleLeader, cert)
	id := f.draft(t, testenv.CongVanPDF(t))
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: id, Certificate: cert, Role: RoleApprove, By: lp})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pades.SignDigest(f.ctx, p.Leader.Key, pend.Digest, optsFor(t, pend))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: lp}); err != nil {
		t.Fatal(err)
	}
	d, _ := f.svc.Store.GetDocument(f.ctx, id)
	content := f.current(t, d)
	rep, err := verify.VerifyPDF(f.ctx, bytes.NewReader(content), int64(len(content)), "approved.pdf",
		verify.Options{Anchors: f.svc.Verify.Anchors, Revocation: f.svc.Verify.Revocation, Issuers: failingIssuers{}})
	if err != nil || rep.Indication != verify.TotalPassed || fetched.Load() == 0 {
		t.Fatalf("verify the AIA-completed approval with the root alone: %v %s (AIA asked %d times)", err, verdict(rep), fetched.Load())
	}
}

// failingIssuers is a verifier's AIA fetcher that finds nothing: the chain must come
// from the document.
type failingIssuers struct{}

func (failingIssuers) FetchIssuers(context.Context, *x509.Certificate) ([]*x509.Certificate, error) {
	return nil, errors.New("no AIA in this verification")
}
