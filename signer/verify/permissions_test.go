package verify

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/pades"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// lockedFormPDF is formPDF with an empty signature field "Leader" whose /Lock locks
// the number field "so" once signed.
func lockedFormPDF(t testing.TB) []byte {
	return update(t, formPDF(), func(r *pdf.Reader, u *pdf.Update) {
		sig := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"),
			"T": pdf.String("Leader"), "F": int64(132), "Rect": pdf.Array{int64(0), int64(0), int64(0), int64(0)},
			"P": pdf.Ref{Num: 3}, "Lock": pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"),
				"Fields": pdf.Array{pdf.String("so")}}})
		cat, _, _ := r.Catalog()
		nc := pdf.Dict{}
		for k, v := range cat {
			nc[k] = v
		}
		af := pdf.Dict{}
		for k, v := range r.Dict(cat["AcroForm"]) {
			af[k] = v
		}
		af["Fields"] = pdf.Array{pdf.Ref{Num: 5}, sig}
		nc["AcroForm"] = af
		u.Set(pdf.Ref{Num: 1}, nc)
		np := pdf.Dict{}
		for k, v := range r.Dict(pdf.Ref{Num: 3}) {
			np[k] = v
		}
		np["Annots"] = pdf.Array{pdf.Ref{Num: 5}, sig}
		u.Set(pdf.Ref{Num: 3}, np)
	})
}

// TestPermissions judges later revisions against DocMDP certifications and a FieldMDP
// lock.
func TestPermissions(t *testing.T) {
	p := testpki.Committed(t)
	svc := startServices(t, nil)
	opts := Options{Anchors: []*x509.Certificate{p.Root.Cert}, Revocation: svc.revocation}
	certified := func(c pades.Certify) []byte {
		return sign(t, formPDF(), p.Org, pades.Options{Certify: c})
	}
	for _, tc := range []struct {
		name string
		doc  func() []byte
		exit int
		// why, when it fails: a phrase of the modification's detail
		why string
	}{
		{"P=1 then form filling", func() []byte { return fillNumber(t, certified(pades.CertifyNoChanges), "01") }, 1, "DocMDP P=1"},
		{"P=1 extended to B-LTA (DSS, document timestamp)", func() []byte {
			return sign(t, formPDF(), p.Org, pades.Options{Certify: pades.CertifyNoChanges, Level: pades.LevelBLTA,
				Timestamper: svc.ts, Validation: svc.collector})
		}, 0, ""},
		{"P=2 then form filling", func() []byte { return fillNumber(t, certified(pades.CertifyFormFilling), "01") }, 0, ""},
		{"P=2 then a comment", func() []byte { return addComment(t, certified(pades.CertifyFormFilling)) }, 1, "DocMDP P=2"},
		{"P=2 then page content replaced", func() []byte { return replacePage(t, certified(pades.CertifyFormFilling)) }, 1, "DocMDP P=2"},
		{"P=3 then a comment", func() []byte { return addComment(t, certified(pades.CertifyAnnotations)) }, 0, ""},
		{"P=3 then page content replaced", func() []byte { return replacePage(t, certified(pades.CertifyAnnotations)) }, 1, "DocMDP P=3"},
		{"locked field filled", func() []byte {
			return fillNumber(t, sign(t, lockedFormPDF(t), p.Leader, pades.Options{Field: "Leader"}), "01")
		}, 1, `field "so" is locked`},
		{"locked field left alone, another signature added", func() []byte {
			return sign(t, sign(t, lockedFormPDF(t), p.Leader, pades.Options{Field: "Leader"}), p.Org, pades.Options{})
		}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := verifyBytes(t, tc.doc(), opts)
			if rep.ExitCode() != tc.exit {
				t.Fatalf("exit %d, want %d:\n%s", rep.ExitCode(), tc.exit, describe(rep))
			}
			if tc.exit == 1 && (rep.SubIndication != ModifiedAfterSigning || !strings.Contains(describe(rep), tc.why)) {
				t.Errorf("want %s because of %q:\n%s", ModifiedAfterSigning, tc.why, describe(rep))
			}
		})
	}
	// the report names the certification
	rep := verifyBytes(t, certified(pades.CertifyAnnotations), opts)
	if rep.DocMDP != 3 || rep.Signatures[0].Type != "certification" {
		t.Errorf("docmdp %d, type %q", rep.DocMDP, rep.Signatures[0].Type)
	}
}
