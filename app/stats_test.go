package app

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pades"
)

// TestStatsAddUp makes n signatures of each kind for real — the leader's approval on
// a SoftHSM2 token through prepare/complete, the clerk's issue and a plain signature
// with the organisation's server key, and the receipt of issued documents by another
// agency — and checks each count, and that every breakdown adds up to its total. The
// registers the same work fills are checked too (TestRegisterBook's rows).
func TestStatsAddUp(t *testing.T) {
	const n = 2
	f := newFixture(t)
	day := time.Date(2026, 12, 3, 9, 30, 0, 0, vietnam)
	issueOn(f, day)
	in := testenv.CongVanPDF(t)
	var issued [][]byte
	for i := range n {
		pend, err := f.svc.Prepare(f.ctx, PrepareRequest{
			Content: bytes.NewReader(in), Filename: "draft.pdf", AgencyCode: agency, Summary: "Về việc thống kê " + string(rune('A'+i)), Symbol: "UBND-VP", Type: "CV",
			Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
			Options: SignOptions{Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: testenv.SignaturePNG()}},
		})
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
		doc, _, err := f.svc.Issue(f.ctx, IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", Seal: testenv.SealPNG(), SealSize: 100, By: f.cp})
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, f.current(t, doc))
		if _, err := f.svc.SignAndStore(f.ctx, "org", bytes.NewReader(in), int64(len(in)), SignOptions{},
			StoreTarget{AgencyCode: agency, Summary: "Bản ký khác", Type: "BC", Filename: "bc.pdf", By: f.sp}); err != nil {
			t.Fatal(err)
		}
	}
	const receiver = "000.00.00.G22"
	for i, content := range issued {
		if _, err := f.svc.Receive(f.ctx, ReceiveRequest{Content: bytes.NewReader(content), Filename: "den.pdf", Holder: receiver, Issuer: agency,
			Number: docid.NumberSymbol{Number: i + 1, Symbol: "UBND-VP"}, Summary: "Văn bản đến", Type: "CV", IssuedAt: day, Actor: "văn thư",
			Urgency: store.UrgencyUrgent}); err != nil {
			t.Fatal(err)
		}
	}

	st, err := f.svc.Stats(f.ctx, Principal{}, YearPeriod(2026))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	sum := func(m map[string]int64) (s int64) {
		for _, v := range m {
			s += v
		}
		return s
	}
	check("approve", st.Signatures.ByKind["approve"], n)
	check("issue", st.Signatures.ByKind["issue"], n)
	check("sign", st.Signatures.ByKind["sign"], n)
	check("receive", st.Signatures.ByKind["receive"], 2*n) // the leader's and the organisation's, both verified
	check("signatures", st.Signatures.Total, 5*n)
	check("signatures = sum by kind", sum(st.Signatures.ByKind), st.Signatures.Total)
	check("signatures = sum by key kind", sum(st.Signatures.ByKeyKind), st.Signatures.Total)
	check("USB token (prepare/complete)", st.Signatures.ByKeyKind["usb_token"], n)
	check("software key", st.Signatures.ByKeyKind["soft"], 2*n)
	check("the senders' keys", st.Signatures.ByKeyKind["other"], 2*n)
	check("certificates in force", st.Certificates.InForce, 2)
	check("certificates used", st.Certificates.Used, 2)
	check("organisation", st.Certificates.ByKind["organisation"].Used, 1)
	check("personal USB token", st.Certificates.ByKind["personal_usb_token"].Used, 1)
	var inForce, used int64
	for _, c := range st.Certificates.ByKind {
		inForce, used = inForce+c.InForce, used+c.Used
	}
	check("certificates = sum by kind", inForce, st.Certificates.InForce)
	check("used = sum by kind", used, st.Certificates.Used)
	check("outgoing", st.Outgoing.Total, 2*n)
	check("outgoing issued", st.Outgoing.ByStatus["issued"], n)
	check("outgoing drafts", st.Outgoing.ByStatus["draft"], n)
	check("incoming", st.Incoming.Total, n)
	for name, c := range map[string]DocumentCounts{"incoming": st.Incoming, "outgoing": st.Outgoing} {
		check(name+" = sum by type", sum(c.ByType), c.Total)
		check(name+" = sum by status", sum(c.ByStatus), c.Total)
	}
	check("signed documents", st.Signed, 3*n)

	// Another agency's clerk counts none of it; the receiver's clerk its incoming only.
	other := testClientOf(t, f.svc, "other clerk", RoleClerk, []string{"000.00.00.G09"}, "")
	if st, err := f.svc.Stats(f.ctx, other, YearPeriod(2026)); err != nil || st.Signatures.Total != 0 || st.Certificates.InForce != 0 || st.Outgoing.Total != 0 {
		t.Errorf("another agency's clerk counts %+v (%v)", st, err)
	}
	recv := testClientOf(t, f.svc, "receiver clerk", RoleClerk, []string{receiver}, "")
	if st, err := f.svc.Stats(f.ctx, recv, YearPeriod(2026)); err != nil || st.Signatures.Total != 2*n || st.Incoming.Total != n || st.Outgoing.Total != 0 {
		t.Errorf("the receiver's clerk counts %+v (%v)", st, err)
	}

	// The outgoing register: one row per number, in order, with the leader as signer
	// and the pages counted from the stored PDF.
	q := RegisterBookQuery{Agency: agency, Kind: "out", From: day, To: day}
	book, err := f.svc.RegisterBook(f.ctx, f.cp, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(book.Entries) != n {
		t.Fatalf("outgoing register: %+v", book)
	}
	for i, e := range book.Entries {
		if e.Number != i+1 || e.Signer != f.leader.Certificate().Subject.CommonName || e.Pages != 1 || e.Symbol != "UBND-VP" || e.TypeName != "Công văn" {
			t.Errorf("outgoing row %d: %+v", i, e)
		}
	}
	var buf bytes.Buffer
	if err := WriteRegisterCSV(&buf, book); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), utf8BOM))).ReadAll()
	if err != nil || len(rows) != n+1 || rows[1][0] != "01" || rows[1][1] != "03/12/2026" || rows[1][7] != "01 bản điện tử, 1 trang" {
		t.Errorf("outgoing CSV %q (%v)", rows, err)
	}
	// The incoming register of the receiver, its urgency in the tenth column but one.
	inBook, err := f.svc.RegisterBook(f.ctx, recv, RegisterBookQuery{Agency: receiver, Kind: "in", From: day, To: day})
	if err != nil || len(inBook.Entries) != n || inBook.Entries[0].NumberSymbol != "01/UBND-VP" || inBook.Entries[0].Issuer != agency ||
		inBook.Entries[0].Verification != "TOTAL_PASSED" || inBook.Entries[1].Number != 2 {
		t.Errorf("incoming register %+v (%v)", inBook, err)
	}
	// A number taken by an issue prepared on the clerk's token and cancelled is voided:
	// its own row, the reason in Ghi chú, dated when it was taken (the store's clock).
	pend, err := f.svc.Prepare(f.ctx, PrepareRequest{Content: bytes.NewReader(in), AgencyCode: agency, Symbol: "UBND-VP", Type: "CV",
		Certificate: f.leader.Certificate(), Chain: f.pki.Leader.Chain, Role: RoleApprove, By: f.lp,
		Options: SignOptions{Appearance: &pades.Appearance{Page: 1, Rect: leaderRect, Image: testenv.SignaturePNG()}}})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := pades.SignDigest(f.ctx, f.leader, pend.Digest, optsFor(t, pend))
	if _, err := f.svc.Complete(f.ctx, pend.ID, CompleteRequest{Signature: sig, By: f.lp}); err != nil {
		t.Fatal(err)
	}
	ip, err := f.svc.Prepare(f.ctx, PrepareRequest{DocumentID: pend.DocumentID, Certificate: f.pki.Org.Cert, Chain: f.pki.Org.Chain,
		Role: RoleIssue, By: f.cp, Options: SignOptions{VisibleImage: testenv.SealPNG()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CancelPending(f.ctx, f.cp, ip.ID, "sai trích yếu"); err != nil {
		t.Fatal(err)
	}
	today := time.Now()
	voided, err := f.svc.RegisterBook(f.ctx, f.cp, RegisterBookQuery{Agency: agency, Kind: "out", From: today, To: today})
	if err != nil {
		t.Fatal(err)
	}
	last := voided.Entries[len(voided.Entries)-1]
	if !last.Voided || last.Number != n+1 || !strings.Contains(last.Note, "sai trích yếu") || last.DocumentID != 0 {
		t.Errorf("the voided number's row: %+v", last)
	}
	buf.Reset()
	if err := WriteRegisterCSV(&buf, voided); err != nil || !strings.Contains(buf.String(), "\r\n03,") || !strings.Contains(buf.String(), ",Số bị hủy; ") {
		t.Errorf("the voided row in CSV: %q %v", buf.String(), err)
	}
	// Another agency's register is refused; so is a period turned around.
	if _, err := f.svc.RegisterBook(f.ctx, recv, q); fault.KindOf(err) != fault.Forbidden {
		t.Errorf("the receiver's clerk read the issuer's register: %v", err)
	}
	if _, err := f.svc.RegisterBook(f.ctx, f.cp, RegisterBookQuery{Agency: agency, Kind: "out", From: day, To: day.AddDate(0, 0, -1)}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("a period turned around: %v", err)
	}
}
