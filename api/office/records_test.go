package office_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
)

// TestReceivedVerdicts: received documents show the verdict the store keeps of them — a signed one its indication, a scan "no signature" — in the list, on the
// document page and in the incoming register; the register's CSV starts with a UTF-8
// BOM.
func TestReceivedVerdicts(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	ctx := context.Background()
	var signed bytes.Buffer
	draft := testenv.OnePagePDF("Cong van den")
	if err := k.svc.SignPDF(ctx, "org", bytes.NewReader(draft), int64(len(draft)), &signed, app.SignOptions{Reason: "Phát hành"}); err != nil {
		t.Fatal(err)
	}
	receive := func(b []byte, summary string) app.DocumentRecord {
		rec, err := k.svc.CreateDocument(ctx, k.clerk, app.NewDocument{Direction: "incoming", AgencyCode: testpki.OrgCode, HolderCode: testpki.OrgCode,
			Symbol: "UBND-VP", Number: 7, Summary: summary, AcceptIndeterminate: true}, testDoc{bytes.NewReader(b), int64(len(b))})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	got := receive(signed.Bytes(), "Văn bản đến có chữ ký")
	scan := receive(testenv.OnePagePDF("Ban quet"), "Bản quét không có chữ ký")
	rec, err := k.svc.GetDocument(ctx, k.clerk, got.ID)
	if err != nil || rec.Verdict == nil {
		t.Fatalf("the received document's verdict: %+v %v", rec.Verdict, err)
	}
	want := rec.Verdict.Indication
	p := k.person(t)
	p.signIn(k.clerkKey)
	_, list := p.get("/van-phong/van-ban?loc=van-ban-den")
	_, page := p.get(fmt.Sprintf("/van-phong/van-ban/%d", got.ID))
	_, scanPage := p.get(fmt.Sprintf("/van-phong/van-ban/%d", scan.ID))
	_, reg := p.get("/van-phong/so-dang-ky?loai=den")
	label := map[string]string{"TOTAL_PASSED": "Hợp lệ", "TOTAL_FAILED": "Không hợp lệ", "INDETERMINATE": "Chưa xác định được"}[want]
	if label == "" {
		t.Fatalf("verdict at receipt: %q", want)
	}
	for name, body := range map[string]string{"list": list, "page": page, "register": reg} {
		if !strings.Contains(body, label) {
			t.Errorf("%s does not show the verdict %q", name, label)
		}
	}
	if !strings.Contains(list, "Không có chữ ký") || !strings.Contains(scanPage, "Không có chữ ký") {
		t.Error("the scan's verdict is not shown")
	}
	resp, csv := p.get("/van-phong/so-dang-ky?loai=den&dang=csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(csv, "\ufeffSố đến,Ngày đến") || !strings.Contains(csv, "07/UBND-VP") {
		t.Fatalf("incoming CSV: %s %q", resp.Status, csv)
	}
}

// TestOtherAgencyNotFound: a clerk of another agency gets the same 404 for a
// document it may not see as for one that does not exist, trail and downloads too.
func TestOtherAgencyNotFound(t *testing.T) {
	k := startKyso(t, testpki.Committed(t), "")
	ctx := context.Background()
	doc := testenv.OnePagePDF("Du thao")
	rec, err := k.svc.CreateDocument(ctx, k.clerk, app.NewDocument{Direction: "outgoing", AgencyCode: testpki.OrgCode, Symbol: "UBND-VP", Summary: "Mật"},
		testDoc{bytes.NewReader(doc), int64(len(doc))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.svc.ImportAgencies(ctx, admin, strings.NewReader("code,name,parent_code,valid_from,valid_to\n000.00.00.H41,UBND tỉnh Nghệ An,,2020-01-01,\n")); err != nil {
		t.Fatal(err)
	}
	key, hash := api.NewAPIKey()
	if _, err := k.svc.RegisterClient(ctx, admin, app.NewClient{Name: "other", Role: app.RoleClerk, Agencies: []string{"000.00.00.H41"}}, hash); err != nil {
		t.Fatal(err)
	}
	p := k.person(t)
	p.signIn(key)
	for _, path := range []string{"/van-phong/van-ban/%d", "/van-phong/van-ban/%d/tep/1", "/van-phong/van-ban/999%d"} {
		resp, body := p.get(fmt.Sprintf(path, rec.ID))
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "Mật") {
			t.Errorf("%s: %s", path, resp.Status)
		}
	}
	if _, err := k.svc.DocumentAudit(ctx, app.Principal{ID: "9", Role: app.RoleClerk, Agencies: []string{"000.00.00.H41"}}, rec.ID); err == nil {
		t.Error("another agency's clerk read the trail")
	}
	trail, err := k.svc.DocumentAudit(ctx, k.clerk, rec.ID)
	if err != nil || len(trail) == 0 || trail[0].Action != "create" {
		t.Fatalf("the clerk's own trail: %+v %v", trail, err)
	}
}

// testDoc is an app.Document over bytes.
type testDoc struct {
	*bytes.Reader
	n int64
}

func (d testDoc) Size() int64         { return d.n }
func (d testDoc) Filename() string    { return "doc.pdf" }
func (d testDoc) ContentType() string { return "application/pdf" }
func (d testDoc) SHA256() [32]byte {
	b := make([]byte, d.n)
	_, _ = d.ReadAt(b, 0)
	return sha256.Sum256(b)
}
