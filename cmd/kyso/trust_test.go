package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
	"github.com/kyso-vn/kyso/signer/verify"
)

func TestTrustCommands(t *testing.T) {
	out, _, err := runKyso(t, "trust", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []trustRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	anchors := 0
	for _, r := range rows {
		if r.Role == vntrust.Anchor {
			anchors++
		}
		if len(r.SHA256) != 64 || r.PKI == "" || r.NotBefore == "" || r.NotAfter == "" || r.Name == "" {
			t.Errorf("row %+v", r)
		}
	}
	if anchors != 10 || len(rows) < 70 {
		t.Errorf("%d rows, %d anchors", len(rows), anchors)
	}

	out, _, err = runKyso(t, "trust", "list", "--role", "anchor")
	if err != nil || !strings.Contains(out, "Ban Cơ yếu Chính phủ – G2") || !strings.Contains(out, "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8") || strings.Contains(out, "intermediate") {
		t.Errorf("list --role anchor: %v\n%s", err, out)
	}
	out, _, err = runKyso(t, "trust", "show", "CA phục vụ các cơ quan Nhà nước G2")
	if err != nil || !strings.Contains(out, "intermediate") || !strings.Contains(out, "D8CAB7A4AEF92E6BB2509D7C61CEE7B44F3731B2D21074963530277B366FAE4B") {
		t.Errorf("show by name: %v\n%s", err, out)
	}
	if code, msg := kysoExit(t, "trust", "show", "00000000"); code != 1 || !strings.Contains(msg, "kyso trust list") {
		t.Errorf("show of nothing: exit %d: %s", code, msg)
	}
	if code, _ := kysoExit(t, "trust", "list", "--role", "root"); code != 2 {
		t.Errorf("an unknown role: exit %d", code)
	}

	// export writes what list shows: every anchor, fingerprints equal
	file := filepath.Join(t.TempDir(), "vn-roots.pem")
	if _, _, err := runKyso(t, "trust", "export", "--role", "anchor", "-o", file); err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ReadCertificatesFile(file)
	if err != nil || len(certs) != 10 {
		t.Fatalf("%d certificates exported: %v", len(certs), err)
	}
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		e, ok := vntrust.Find(hex.EncodeToString(sum[:]))
		if !ok || e.Role != vntrust.Anchor {
			t.Errorf("exported %s is not a listed anchor", c.Subject.CommonName)
		}
	}
	dir := filepath.Join(t.TempDir(), "all")
	if _, _, err := runKyso(t, "trust", "export", "--role", "all", "--dir", dir); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != len(rows) {
		t.Errorf("%d files for %d certificates", len(files), len(rows))
	}
}

// kyso verify trusts the built-in roots and builds chains through its CAs unless
// --builtin-trust=false; the test PKI is never among them.
func TestVerifyUsesBuiltinTrust(t *testing.T) {
	var o verify.Options
	if err := (verifyFlags{builtin: true}).applyTrust(&o); err != nil {
		t.Fatal(err)
	}
	if len(o.Anchors) != 10 || len(o.Intermediates) < 60 || o.Crypto == nil {
		t.Fatalf("%d anchors, %d intermediates", len(o.Anchors), len(o.Intermediates))
	}
	for _, a := range o.Anchors {
		if strings.Contains(a.Subject.CommonName, "TEST") {
			t.Errorf("the test PKI's %s is a default anchor", a.Subject.CommonName)
		}
	}
	// a licensed CA under a 2025 purpose root finds its chain with no --trust
	smartca, _ := vntrust.Find("6987dcea")
	chains, err := pki.NewTrustStore(o.Anchors...).BuildChain(smartca.Certificate, o.Intermediates, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), pki.ChainOptions{})
	if err != nil || vntrust.PKIName(chains[0][len(chains[0])-1]) != "NEAC – Vietnam National Root CA – RS" {
		t.Errorf("VNPT SmartCA RS 2026: %v", err)
	}
	var none verify.Options
	if err := (verifyFlags{builtin: false}).applyTrust(&none); err != nil || len(none.Anchors) != 0 || len(none.Intermediates) != 0 {
		t.Errorf("--builtin-trust=false: %d anchors, %v", len(none.Anchors), err)
	}
	if err := (verifyFlags{builtin: true, crypto: map[string]string{"SHA-9": "2020-01-01"}}).applyTrust(&none); exitCode(err) != 2 || !strings.Contains(err.Error(), "--crypto.SHA-9") {
		t.Errorf("an unknown algorithm: %v", err)
	}
}
