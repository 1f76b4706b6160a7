package vntrust

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/certfile"
)

// Every embedded file is in the table, and its fingerprint is the one recorded.
func TestFingerprintsMatchFiles(t *testing.T) {
	es, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(certsFS, "certs/*.pem")
	if len(files) != len(es) || len(es) != len(table) {
		t.Fatalf("%d files, %d entries, %d table rows", len(files), len(es), len(table))
	}
	for _, f := range files {
		data, _ := certsFS.ReadFile(f)
		certs, err := certfile.Parse(data)
		if err != nil || len(certs) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		sum := sha256.Sum256(certs[0].Raw)
		e, ok := Find(hex.EncodeToString(sum[:]))
		if !ok || "certs/"+e.File != f {
			t.Errorf("%s (SHA-256 %x) is not in the table under its name", f, sum)
		}
	}
}

// A file whose fingerprint differs from the table's is refused, naming the file.
func TestMismatchRefused(t *testing.T) {
	saved := table
	defer func() { table = saved }()
	table = append([]entrySpec(nil), saved...)
	table[3].SHA256 = strings.Repeat("0", 64)
	_, err := load()
	if err == nil || !strings.Contains(err.Error(), table[3].File) {
		t.Fatalf("load with a wrong fingerprint: %v", err)
	}
}

// Anchors are exactly the roots confirmed by two or more sources; everything else is
// chain material only, and is issued by a certificate of the list.
func TestRoles(t *testing.T) {
	es, _ := Entries()
	anchors, _ := Anchors()
	if len(anchors) != 10 {
		t.Errorf("%d anchors, want the 10 roots of TRUST.md", len(anchors))
	}
	all := map[string]*x509.Certificate{}
	for _, e := range es {
		all[string(e.Certificate.RawSubject)] = e.Certificate
	}
	for _, e := range es {
		c := e.Certificate
		selfSigned := string(c.RawIssuer) == string(c.RawSubject)
		switch e.Role {
		case Anchor:
			if !selfSigned || e.Sources < 2 || !c.IsCA {
				t.Errorf("anchor %s: self-signed %v, sources %d, CA %v", e.Name, selfSigned, e.Sources, c.IsCA)
			}
		default:
			if selfSigned {
				t.Errorf("%s is a root but not an anchor", e.Name)
			}
			if _, ok := all[string(c.RawIssuer)]; !ok {
				t.Errorf("%s: its issuer is not in the list", e.Name)
			}
		}
		if e.PKI == "" || len(e.SHA256) != 64 {
			t.Errorf("%s: PKI %q, SHA-256 %q", e.Name, e.PKI, e.SHA256)
		}
	}
}

func TestPKINames(t *testing.T) {
	want := map[string]string{
		"f04ba4b4": "Ban Cơ yếu Chính phủ – G2",
		"f7bc8905": "Ban Cơ yếu Chính phủ – G1",
		"bac8bf60": "NEAC – Vietnam National Root CA",
		"12afeba2": "NEAC – Vietnam National Root CA – RS",
		"d8cab7a4": "Ban Cơ yếu Chính phủ – G2", // CA phục vụ các cơ quan Nhà nước G2
	}
	for fp, name := range want {
		e, ok := Find(fp)
		if !ok || e.PKI != name || PKIName(e.Certificate) != name {
			t.Errorf("%s: %+v, want PKI %q", fp, e.PKI, name)
		}
	}
	if _, ok := Find("0000"); ok {
		t.Error("a 4-digit prefix found an entry")
	}
}

// The G2 state-bodies CA chains to the G2 root with the standard library's builder.
func TestG2Chain(t *testing.T) {
	sub, _ := Find("d8cab7a4")
	root, _ := Find("f04ba4b4")
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	if _, err := sub.Certificate.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
}
