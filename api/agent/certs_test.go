package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/pkg/pki"
)

// TestTokenWarnings: the token list warns, in Vietnamese and English, of a
// certificate that is expired and of one whose chain neither the token nor the
// configured chain files complete; the chain files take the second warning away.
func TestTokenWarnings(t *testing.T) {
	p := testpki.Committed(t)
	tok := testenv.NewSoftHSM(t, "Two certificates", pin)
	for _, k := range []struct {
		stem, id string
		cert     *testpki.Cert
	}{{"leader", "01", p.Leader}, {"expired", "03", p.Expired}} {
		keyPEM, err := os.ReadFile(p.Path(k.stem + ".key"))
		if err != nil {
			t.Fatal(err)
		}
		tok.ImportKey(t, keyPEM, k.stem, k.id)
		tok.ImportCert(t, k.cert.Cert.Raw, k.stem, k.id)
	}
	codes := func(issuers []*x509.Certificate) map[string][]string {
		w := agent.NewWatcher([]agent.Module{{Path: tok.Module}}, time.Hour, nil)
		defer w.Close()
		w.UseChain(issuers)
		w.Poll()
		toks, _ := w.Tokens()
		if len(toks) != 1 || len(toks[0].Certificates) != 2 {
			t.Fatalf("tokens: %+v", toks)
		}
		out := map[string][]string{}
		for _, c := range toks[0].Certificates {
			if !c.HasKey {
				t.Errorf("certificate %s: no key seen", c.ID)
			}
			out[c.ID] = nil
			for _, w := range c.Warnings {
				out[c.ID] = append(out[c.ID], w.Code)
				if w.VI == "" || w.EN == "" || w.VI == w.EN {
					t.Errorf("warning %s is not in both languages: %+v", w.Code, w)
				}
				if w.Code == agent.WarnNoChain && !strings.Contains(w.EN, pki.DisplayName(p.Sub.Cert.Subject)) {
					t.Errorf("the warning does not name the missing issuer: %s", w.EN)
				}
			}
		}
		return out
	}
	got := codes(nil)
	if strings.Join(got["01"], ",") != "no-chain" || strings.Join(got["03"], ",") != "expired,no-chain" {
		t.Fatalf("without chain files: %v", got)
	}
	got = codes([]*x509.Certificate{p.Sub.Cert, p.Root.Cert})
	if len(got["01"]) != 0 || strings.Join(got["03"], ",") != "expired" {
		t.Fatalf("with the chain files: %v", got)
	}
}

// TestConfirmRefusesExpiredCertificate: when the certificate a job needs has expired
// by the time the person confirms, the job's page warns by the certificate, the
// confirmation is refused with the same words, and the token is never given the PIN.
func TestConfirmRefusesExpiredCertificate(t *testing.T) {
	p := testpki.Committed(t)
	k := startKyso(t, p)
	e := startAgent(t, newToken(t, p, "Kyso leader"), k)
	req := k.prepareDoc(t, corpusPDF(t), p.Leader, app.RoleApprove, "Công văn thử", nil)
	_, jobID, _ := e.createJob(t, req.ID)
	e.now.Add(p.Leader.Cert.NotAfter.Sub(e.now.Now()) + 24*time.Hour)
	if page := e.jobPage(t, jobID); !strings.Contains(page, `data-code="expired">⚠ Chứng thư số đã hết hạn ngày 31/12/2045`) {
		t.Fatalf("the job page does not warn:\n%s", page)
	}
	if page := e.page(t, "/jobs/"+jobID+"?lang=en"); !strings.Contains(page, "The certificate expired on 2045-12-31") {
		t.Fatalf("the English job page does not warn:\n%s", page)
	}
	code, page := e.confirmForm(t, jobID, pin)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, "Chứng thư số đã hết hạn ngày 31/12/2045") {
		t.Fatalf("%d\n%s", code, page)
	}
	if n := e.agent.LoginAttempts(); n != 0 {
		t.Fatalf("the token was given the PIN %d times", n)
	}
}

// TestOfflineChainFromAIA: a certificate whose token carries no issuer gets its chain
// from its caIssuers address, through pkg/pki's fetcher; without that address the
// error names the missing issuer.
func TestOfflineChainFromAIA(t *testing.T) {
	p := testpki.Committed(t)
	aia := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		_, _ = w.Write(p.Sub.Cert.Raw)
	}))
	defer aia.Close()
	leaf := func(urls []string) agent.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Lê Thị E"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			IssuingCertificateURL: urls}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.Sub.Cert, &key.PublicKey, p.Sub.Key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return agent.Certificate{ID: "01", Holder: "Lê Thị E", Cert: c}
	}
	// The root is a configured chain file; the token and the files lack the sub CA.
	o := agent.Offline{AIA: &pki.AIAFetcher{AllowPrivate: true}, Issuers: []*x509.Certificate{p.Root.Cert}}
	chain, err := o.Chain(context.Background(), leaf([]string{aia.URL + "/sub-ca.crt"}), time.Now())
	if err != nil || len(chain) != 1 || !chain[0].Equal(p.Sub.Cert) {
		t.Fatalf("chain by AIA: %v %v", chain, err)
	}
	_, err = o.Chain(context.Background(), leaf(nil), time.Now())
	var ce *agent.ChainError
	if !errors.As(err, &ce) || ce.Missing != pki.DisplayName(p.Sub.Cert.Subject) {
		t.Fatalf("no AIA: %v", err)
	}
}
