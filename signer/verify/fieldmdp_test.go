package verify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// fillField is form filling by another tool: a later revision that sets the value of
// the field fully named name.
func fillField(t testing.TB, doc []byte, name, value string) []byte {
	t.Helper()
	found := false
	out := update(t, doc, func(r *pdf.Reader, u *pdf.Update) {
		cat, _, _ := r.Catalog()
		var walk func(o pdf.Object, parent string, depth int)
		walk = func(o pdf.Object, parent string, depth int) {
			ref, ok := o.(pdf.Ref)
			d := r.Dict(o)
			if !ok || d == nil || depth > 8 || found {
				return
			}
			full := parent
			if s, ok := d["T"].(pdf.String); ok {
				if full != "" {
					full += "."
				}
				full += pdf.DecodeText(s)
			}
			if full == name {
				nd := pdf.Dict{}
				for k, v := range d {
					nd[k] = v
				}
				nd["V"] = pdf.TextString(value)
				u.Set(ref, nd)
				found = true
				return
			}
			for _, k := range r.Array(d["Kids"]) {
				walk(k, full, depth+1)
			}
		}
		for _, f := range r.Array(r.Dict(cat["AcroForm"])["Fields"]) {
			walk(f, "", 0)
		}
	})
	if !found {
		t.Fatalf("no field %q", name)
	}
	return out
}

// signLockedAnyway is a later revision that signs the signature field field although
// a lock forbids it, as a tool that ignores locks would: Kyso refuses, so it signs a
// copy whose locks are renamed away (same length, same offsets) and the revision it
// wrote is appended to the real document. That signature's own digest does not match;
// what is judged is the earlier, locking signature.
func signLockedAnyway(t *testing.T, doc []byte, c *testpki.Cert, field string) []byte {
	t.Helper()
	blind := bytes.ReplaceAll(doc, []byte("/Lock"), []byte("/Xock"))
	blind = bytes.ReplaceAll(blind, []byte("/FieldMDP"), []byte("/FieldXDP"))
	out := sign(t, blind, c, pades.Options{Field: field})
	return append(append([]byte(nil), doc...), out[len(doc):]...)
}

// TestFieldMDPVerified: a later revision that changes a field the signature locked is
// reported on that signature, naming the field, in Vietnamese and English; changing
// an unlocked field, or signing a field left free, passes.
func TestFieldMDPVerified(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	leaderSigned := func(lock string) []byte {
		return sign(t, testenv.LockedFormPDF(lock, ""), p.Leader, pades.Options{Field: "LanhDao"})
	}
	include := leaderSigned("<< /Type /SigFieldLock /Action /Include /Fields [(so) (ngay)] >>")
	for _, tc := range []struct {
		name string
		doc  func() []byte
		// locked is the field the explanation must name; "" when the document passes
		locked string
	}{
		{"Include: a locked field filled", func() []byte { return fillField(t, include, "so", "05/UBND-VP") }, "so"},
		{"Include: an unlocked field filled", func() []byte { return fillField(t, include, "ghichu", "đã xem") }, ""},
		{"Include: the clerk signs the free field", func() []byte {
			return sign(t, include, p.Org, pades.Options{Field: "VanThu"})
		}, ""},
		{"Include: the clerk signs, then the number is changed", func() []byte {
			return fillField(t, sign(t, include, p.Org, pades.Options{Field: "VanThu"}), "ngay", "05/3/2025")
		}, "ngay"},
		{"All: any field filled", func() []byte {
			return fillField(t, leaderSigned("<< /Action /All >>"), "ghichu", "x")
		}, "ghichu"},
		{"Exclude: the excluded field filled", func() []byte {
			return fillField(t, leaderSigned("<< /Action /Exclude /Fields [(ghichu) (VanThu)] >>"), "ghichu", "x")
		}, ""},
		{"Exclude: another field filled", func() []byte {
			return fillField(t, leaderSigned("<< /Action /Exclude /Fields [(ghichu) (VanThu)] >>"), "so", "01")
		}, "so"},
		{"Include: a locked signature field signed", func() []byte {
			return signLockedAnyway(t, leaderSigned("<< /Action /Include /Fields [(VanThu)] >>"), p.Org, "VanThu")
		}, "VanThu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := verifyBytes(t, tc.doc(), opts)
			lead := rep.Signatures[0]
			if lead.Field != "LanhDao" {
				t.Fatalf("first signature in %q:\n%s", lead.Field, describe(rep))
			}
			if tc.locked == "" {
				if rep.ExitCode() != 0 {
					t.Fatalf("exit %d, want 0:\n%s", rep.ExitCode(), describe(rep))
				}
				return
			}
			if rep.Indication == TotalPassed || lead.Indication != TotalFailed || lead.SubIndication != ModifiedAfterSigning {
				t.Fatalf("want the leader's signature %s/%s:\n%s", TotalFailed, ModifiedAfterSigning, describe(rep))
			}
			e := lead.Explanation
			if e == nil || !strings.Contains(e.VI, "Trường \""+tc.locked+"\" đã bị khóa") || !strings.Contains(e.EN, "Field \""+tc.locked+"\" was locked") {
				t.Errorf("the explanation does not name the locked field %q: %+v", tc.locked, e)
			}
			var refused []string
			for _, m := range lead.Modifications {
				if !m.Allowed {
					refused = append(refused, m.Detail)
				}
			}
			if len(refused) != 1 || !strings.Contains(refused[0], "field \""+tc.locked+"\" is locked by this signature (FieldMDP)") {
				t.Errorf("refused modifications %q", refused)
			}
		})
	}

	t.Run("the lock is the locking signature's alone", func(t *testing.T) {
		// the leader approves without a lock; the clerk's signature locks the number,
		// which is then changed: the clerk's signature fails, the leader's stands
		doc := sign(t, testenv.LockedFormPDF("", "<< /Action /Include /Fields [(so)] >>"), p.Leader, pades.Options{Field: "LanhDao"})
		doc = fillField(t, sign(t, doc, p.Org, pades.Options{Field: "VanThu"}), "so", "06")
		rep := verifyBytes(t, doc, opts)
		if rep.Signatures[0].Indication != TotalPassed || rep.Signatures[1].SubIndication != ModifiedAfterSigning {
			t.Errorf("want the leader's passed, the clerk's %s:\n%s", ModifiedAfterSigning, describe(rep))
		}
	})
	t.Run("a lock's PDF 2.0 P=1", func(t *testing.T) {
		rep := verifyBytes(t, fillField(t, leaderSigned("<< /Action /Include /Fields [(so)] /P 1 >>"), "ghichu", "x"), opts)
		if rep.ExitCode() != 1 || !strings.Contains(describe(rep), "the signature field lock (DocMDP P=1) allows no changes") {
			t.Errorf("an unlocked field filled after a lock with P=1:\n%s", describe(rep))
		}
		if rep.DocMDP != 0 {
			t.Errorf("a lock's P reported as a certification's: docmdp %d", rep.DocMDP)
		}
	})
	t.Run("a lock's P=3 lets no comment in after an approval", func(t *testing.T) {
		rep := verifyBytes(t, addComment(t, leaderSigned("<< /Action /Include /Fields [(so)] /P 3 >>")), opts)
		if rep.ExitCode() != 1 {
			t.Errorf("a comment after an approval whose lock says P=3:\n%s", describe(rep))
		}
	})
}

// TestFieldMDPForeign: the lock of a field another tool signed (the DSS corpus file:
// an Exclude lock on the signed field, an All lock on an empty one) is honoured by the
// verifier and, when Kyso signs the field it leaves free, recorded in Kyso's signature.
func TestFieldMDPForeign(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(testenv.CorpusDir(t), "signed", "dss-fieldmdp-exclude-signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	p := testpki.Committed(t)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Offline: true}
	foreign := func(t *testing.T, rep *Report) SignatureReport {
		t.Helper()
		s := rep.Signatures[0]
		if s.Field != "Handtekening houder" {
			t.Fatalf("first signature in %q:\n%s", s.Field, describe(rep))
		}
		return s
	}
	allowedAll := func(s SignatureReport) bool {
		for _, m := range s.Modifications {
			if !m.Allowed {
				return false
			}
		}
		return s.SubIndication != ModifiedAfterSigning
	}

	signed := sign(t, in, p.Org, pades.Options{Field: "Handtekening QuoVadis"})
	rep := verifyBytes(t, signed, opts)
	if s := foreign(t, rep); !allowedAll(s) {
		t.Errorf("signing the field the foreign lock excludes:\n%s", describe(rep))
	}
	r, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	var ref pdf.Dict
	for _, n := range r.Objects() {
		if d := r.Dict(pdf.Ref{Num: n}); d["Type"] == pdf.Name("Sig") {
			if refs := r.Array(d["Reference"]); len(refs) > 0 {
				ref = r.Dict(refs[0])
			}
		}
	}
	if ref["TransformMethod"] != pdf.Name("FieldMDP") || r.Dict(ref["TransformParams"])["Action"] != pdf.Name("All") {
		t.Errorf("Kyso's signature in the field locked /All records %v", ref)
	}

	rep = verifyBytes(t, fillField(t, in, "Nationaliteit", "Belg"), opts)
	if s := foreign(t, rep); s.Indication != TotalFailed || s.SubIndication != ModifiedAfterSigning ||
		!strings.Contains(s.Explanation.EN, `"Nationaliteit"`) {
		t.Errorf("a field the foreign signature locked, filled:\n%s", describe(rep))
	}
	rep = verifyBytes(t, fillField(t, in, "Datum QuoVadis", "01-07-2021"), opts)
	if s := foreign(t, rep); !allowedAll(s) {
		t.Errorf("a field the foreign lock leaves free, filled:\n%s", describe(rep))
	}
}

// TestFieldMDPReferenceOnly: another tool's signature that records its lock only in
// its /Reference (no /Lock on its field), signed with openssl: filling the field it
// locked fails it, naming the field, and Kyso refuses to fill that field.
func TestFieldMDPReferenceOnly(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	kyso := sign(t, formPDF(), p.Clerk, pades.Options{LockFields: []string{"so"}, Level: pades.LevelBT,
		Timestamper: svc.ts, TimestampReserve: 16 << 10})
	if n := bytes.Count(kyso, []byte("/Lock")); n != 1 {
		t.Fatalf("%d /Lock entries, want the new field's one", n)
	}
	noLock := bytes.ReplaceAll(kyso, []byte("/Lock"), []byte("/Xock"))
	foreign := resign(t, noLock, "adbe.pkcs7.detached", func(b []byte) []byte { return opensslCMS(t, b, "-md", "sha256", "-noattr") })
	if rep := verifyBytes(t, foreign, opts); rep.ExitCode() != 0 {
		t.Fatalf("the foreign signature itself:\n%s", describe(rep))
	}

	rep := verifyBytes(t, fillNumber(t, foreign, "05"), opts)
	if s := rep.Signatures[0]; s.SubIndication != ModifiedAfterSigning || !strings.Contains(s.Explanation.VI, `Trường "so" đã bị khóa`) {
		t.Errorf("the number filled after a signature whose /Reference locks it:\n%s", describe(rep))
	}
	var out bytes.Buffer
	err := pades.Sign(t.Context(), p.Org.Key, bytes.NewReader(foreign), int64(len(foreign)), &out, pades.Options{
		Certificate: p.Org.Cert, Chain: p.Org.Chain, Metadata: &pades.Metadata{Fields: map[string]string{"so": "05/UBND-VP"}}})
	if !errors.Is(err, pades.ErrNotAllowed) {
		t.Errorf("Kyso filling the field another tool's signature locked: %v", err)
	}
}
