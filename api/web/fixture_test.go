package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/config"
	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/pkitest"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/pkg/wire"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/verify"
)

// kyso is a real server: the app's use-cases over SQLite, the test PKI's
// organisation key, a stranger's key from a throw-away PKI nobody trusts, revocation
// answered by the test PKI's own OCSP responder and CRL servers, and the API with the
// pages mounted behind its public limits.
type kyso struct {
	svc *app.Service
	// leader and clerk are the agency's API clients: the leader's bound to the
	// leader's certificate, the clerk cleared for confidential documents.
	leader, clerk app.Principal
	pki           *testpki.TestPKI
	url           string
	logs          bytes.Buffer
	dir           string
}

func startKyso(t *testing.T, edit func(*config.Config)) *kyso {
	t.Helper()
	ctx := context.Background()
	p := testpki.Committed(t)
	k := &kyso{pki: p, dir: t.TempDir()}
	st, err := store.Open(ctx, store.Config{DSN: filepath.Join(k.dir, "kyso.db"), BlobDir: filepath.Join(k.dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := hsm.NewSoftwareDemoKey(p.Org.Key, p.Org.ChainWithLeaf()...)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := st.CreateKey(ctx, store.SigningKey{Label: "org", URI: "softkey:demo", Owner: "clerk"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	other := testpki.New(t)
	sc := other.Issue(t, testpki.Spec{Kind: testpki.Organisation, NoRevocationURLs: true,
		Subject: pkix.Name{Country: []string{"VN"}, Organization: []string{"Công ty Không Rõ"}, CommonName: "Công ty Không Rõ"}})
	stranger, err := hsm.NewSoftwareDemoKey(sc.Key, sc.ChainWithLeaf()...)
	if err != nil {
		t.Fatal(err)
	}
	services := pkitest.StartServices(t, p)
	k.svc = &app.Service{
		Store: st,
		Keys: map[string]*app.ServerKey{
			"org":      {Name: "org", Key: org, StoreID: sk.ID, URI: "softkey:demo"},
			"stranger": {Name: "stranger", Key: stranger, URI: "softkey:stranger"},
		},
		Verify: verify.Options{Anchors: []*x509.Certificate{p.Root.Cert},
			Revocation: &pki.Checker{RewriteURL: services.RewriteURL}},
		TempDir:         t.TempDir(),
		PublicRegisters: []string{testpki.OrgCode},
	}
	admin := app.Principal{ID: "admin", Name: "admin", Role: app.RoleAdmin}
	if _, err := k.svc.ImportAgencies(ctx, admin, strings.NewReader("code,name,parent_code,valid_from,valid_to\n"+
		testpki.OrgCode+","+testpki.OrgName+",,2020-01-01,\n")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		into *app.Principal
		nc   app.NewClient
	}{
		{&k.leader, app.NewClient{Name: "leader", Role: app.RoleLeader, Agencies: []string{testpki.OrgCode}, Clearance: "confidential", Certificates: []*x509.Certificate{p.Leader.Cert}}},
		{&k.clerk, app.NewClient{Name: "clerk", Role: app.RoleClerk, Agencies: []string{testpki.OrgCode}, Clearance: "confidential"}},
	} {
		_, hash := api.NewAPIKey()
		if *c.into, err = k.svc.RegisterClient(ctx, admin, c.nc, hash); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Server.MaxUpload = 8 * config.MiB
	cfg.RateLimit.PublicVerifyPerMinute = 1000
	if edit != nil {
		edit(&cfg)
	}
	srv, err := api.New(api.Options{Config: &cfg, Logger: slog.New(slog.NewTextHandler(&k.logs, nil)),
		TempDir: t.TempDir(), Verifier: k.svc, Pages: k.svc})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	k.url = hs.URL
	// issued documents of the public register link to their lookup page here
	k.svc.PublicBaseURL = hs.URL
	return k
}

// pdfDoc is a one-page PDF with a correct cross-reference table.
func pdfDoc(text string) []byte { return testenv.OnePagePDF(text) }

// sign signs in with the named server key through the app's signing path.
func (k *kyso) sign(t *testing.T, key string, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := k.svc.SignPDF(context.Background(), key, bytes.NewReader(in), int64(len(in)), &out, app.SignOptions{Reason: "Phát hành"}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tamper changes one letter of the page's text, inside the signed bytes.
func tamper(t *testing.T, signed []byte, from, to string) []byte {
	t.Helper()
	i := bytes.Index(signed, []byte(from))
	if i < 0 {
		t.Fatalf("%q not in the signed PDF", from)
	}
	out := bytes.Clone(signed)
	copy(out[i:], to)
	return out
}

// report is what the CLI would say of b: the same use-case, at the same trust.
func (k *kyso) report(t *testing.T, b []byte) *verify.Report {
	t.Helper()
	rep, err := k.svc.VerifyPDF(context.Background(), bytes.NewReader(b), int64(len(b)), "x.pdf", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// issue runs the Decree 30 flow through app: a draft, the leader's signature made
// outside the server (prepare, sign the digest, complete), the clerk's issue with
// the organisation's key and the seal. It returns the issued file and its identifier.
func (k *kyso) issue(t *testing.T, text string) ([]byte, string) {
	t.Helper()
	return k.issueAs(t, text, "")
}

// issueAs issues a draft of the given confidentiality ("" unclassified).
func (k *kyso) issueAs(t *testing.T, text, confidentiality string) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	// a draft with the blanks for the number and date that issuing fills in; the
	// approval's reason (text) makes each issued file distinct
	in := testenv.CongVanPDF(t)
	clerk := k.clerk
	draft, err := k.svc.CreateDocument(ctx, clerk, app.NewDocument{Direction: "outgoing", AgencyCode: testpki.OrgCode,
		HolderCode: testpki.OrgCode, Summary: "Về việc thử nghiệm tra cứu văn bản", Symbol: "UBND-VP", Type: "CV",
		Confidentiality: confidentiality}, upload{bytes.NewReader(in), int64(len(in))})
	if err != nil {
		t.Fatal(err)
	}
	pend, err := k.svc.Prepare(ctx, app.PrepareRequest{
		DocumentID: draft.ID, By: k.leader,
		Certificate: k.pki.Leader.Cert, Chain: k.pki.Leader.Chain, Role: app.RoleApprove, Actor: "leader",
		Options: app.SignOptions{Reason: "Phê duyệt: " + text, Appearance: &pades.Appearance{Page: 1, Rect: [4]float64{330, 120, 510, 190}, Image: testenv.SignaturePNG()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := wire.SignerOpts(pend.Algorithm)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pades.SignDigest(ctx, k.pki.Leader.Key, pend.Digest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.svc.Complete(ctx, pend.ID, app.CompleteRequest{Signature: sig, By: k.leader}); err != nil {
		t.Fatal(err)
	}
	doc, rep, err := k.svc.Issue(ctx, app.IssueRequest{DocumentID: pend.DocumentID, KeyName: "org", By: clerk,
		Seal: testenv.SealPNG(), SealSize: 60, Actor: "clerk"})
	if err != nil {
		t.Fatalf("issue: %v (%+v)", err, rep)
	}
	rc, _, err := k.svc.OpenContent(ctx, clerk, doc.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, *doc.Identifier
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// upload is an app.Document over bytes.
type upload struct {
	*bytes.Reader
	size int64
}

func (u upload) Size() int64         { return u.size }
func (u upload) Filename() string    { return "du-thao.pdf" }
func (u upload) ContentType() string { return "application/pdf" }
func (u upload) SHA256() [32]byte {
	b := make([]byte, u.size)
	_, _ = u.ReadAt(b, 0)
	return sha256.Sum256(b)
}
