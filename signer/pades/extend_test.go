package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/internal/testpki"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// deadURL is a loopback URL nothing listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// foreignSigned signs in with a person of another CA whose OCSP responder and CRL
// server do not answer: a signature made elsewhere that Kyso cannot validate.
func foreignSigned(t *testing.T, in []byte) ([]byte, string) {
	dead := deadURL(t)
	p := testpki.New(t, testpki.Options{RootName: "Foreign TEST Root", SubName: "Foreign TEST Sub",
		OCSPURL: dead + "/ocsp", CRLURL: dead + "/sub.crl", RootCRLURL: dead + "/root.crl"})
	leaf := p.Issue(t, testpki.Spec{Kind: testpki.Personal, Subject: pkix.Name{CommonName: "Người ký nơi khác", Country: []string{"VN"}}})
	out, err := signBytes(t, in, leaf.Key, Options{Certificate: leaf.Cert, Chain: leaf.Chain, Field: "ForeignSignature"})
	if err != nil {
		t.Fatal(err)
	}
	return out, leaf.Cert.Subject.CommonName
}

// TestExtendWithAForeignSignature: a document signed first by someone whose CA's
// revocation services are unreachable, then by Kyso at B-T. Extending it to B-LT
// gives Kyso's signature its validation data and names the other one, rather than
// giving up on the file; a document with only the foreign signature cannot be
// extended at all (ErrNoValidationData, naming it).
func TestExtendWithAForeignSignature(t *testing.T) {
	ts, col := startServices(t)
	foreign, foreignCN := foreignSigned(t, testenv.OnePagePDF("Cong van"))
	opts, key := orgOptions(t)
	opts.Level, opts.Timestamper, opts.Field = LevelBT, ts, "KysoSignature"
	both, err := signBytes(t, foreign, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := Extend(context.Background(), bytes.NewReader(both), int64(len(both)), ExtendOptions{Level: LevelBLT, Validation: col})
	if err != nil {
		t.Fatal(err)
	}
	if len(ext.Unvalidated) != 1 || ext.Unvalidated[0].Field != "ForeignSignature" || ext.Unvalidated[0].Signer != foreignCN || ext.Unvalidated[0].Kept {
		t.Fatalf("unvalidated = %+v, want the foreign signature alone", ext.Unvalidated)
	}
	if !strings.Contains(ext.Unvalidated[0].Reason, "revocation") {
		t.Errorf("the reason does not say what is missing: %q", ext.Unvalidated[0].Reason)
	}
	out := append(append([]byte(nil), both...), ext.Tail...)
	r := openBytes(t, out)
	cat, _, _ := r.Catalog()
	vri := r.Dict(r.Dict(cat["DSS"])["VRI"])
	sigs := signatureValues(t, out)
	if len(sigs) != 2 {
		t.Fatalf("%d signatures", len(sigs))
	}
	if _, ok := vri[vriKey(sigs[0].contents)]; ok {
		t.Error("the foreign signature has a VRI entry")
	}
	kyso := r.Dict(vri[vriKey(sigs[1].contents)])
	if kyso == nil || len(r.Array(kyso["Cert"])) == 0 || len(r.Array(kyso["OCSP"]))+len(r.Array(kyso["CRL"])) == 0 {
		t.Fatalf("Kyso's signature has no validation data: %v", kyso)
	}
	if n := strings.Count(judge(t, writeTemp(t, "extended.pdf", out)).pdfsig, "Signature is Valid."); n != 2 {
		t.Errorf("pdfsig: %d valid signatures after extending, want 2", n)
	}

	_, err = Extend(context.Background(), bytes.NewReader(foreign), int64(len(foreign)), ExtendOptions{Level: LevelBLT, Validation: col})
	if !errors.Is(err, ErrNoValidationData) || !strings.Contains(err.Error(), "ForeignSignature") {
		t.Errorf("extending only the foreign signature: %v", err)
	}
}

// dssStreams lists the DSS's Certs, OCSPs and CRLs: per list the SHA-256 of each
// stream's content, and the total bytes.
func dssStreams(t *testing.T, r *pdf.Reader) (map[pdf.Name][][32]byte, int) {
	t.Helper()
	cat, _, _ := r.Catalog()
	dss := r.Dict(cat["DSS"])
	out := map[pdf.Name][][32]byte{}
	total := 0
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		for _, o := range r.Array(dss[k]) {
			st, ok := mustResolve(r, o).(*pdf.Stream)
			if !ok {
				t.Fatalf("DSS /%s holds %v, not a stream", k, o)
			}
			b, err := st.Decode(64 << 20)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = append(out[k], sha256.Sum256(b))
			total += len(b)
		}
	}
	return out, total
}

// checkDSSOnce: no certificate, OCSP response or CRL twice in the DSS (by content,
// whatever revision added it), and every VRI reference is one of the DSS's streams.
func checkDSSOnce(t *testing.T, r *pdf.Reader, when string) {
	t.Helper()
	lists, _ := dssStreams(t, r)
	seen := map[[32]byte]bool{}
	for k, sums := range lists {
		for _, s := range sums {
			if seen[s] {
				t.Errorf("%s: /%s holds a stream twice (sha256 %x)", when, k, s[:6])
			}
			seen[s] = true
		}
	}
	cat, _, _ := r.Catalog()
	dss := r.Dict(cat["DSS"])
	inLists := map[pdf.Object]bool{}
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		for _, o := range r.Array(dss[k]) {
			inLists[o] = true
		}
	}
	for key, e := range r.Dict(dss["VRI"]) {
		for _, k := range []pdf.Name{"Cert", "OCSP", "CRL"} {
			for _, o := range r.Array(r.Dict(e)[k]) {
				if !inLists[o] {
					t.Errorf("%s: VRI %s /%s points to %v, which the DSS lists do not hold", when, key, k, o)
				}
			}
		}
	}
}

// TestRenewKeepsDSSOnce raises a B-LT signature to B-LTA and renews it twice: the
// DSS gains only what it did not hold (each renewal's fresh OCSP responses and the
// new timestamp's chain, nothing twice). A DSS into which an earlier writer put a
// certificate twice comes out with it once, its VRI pointing to the one kept.
func TestRenewKeepsDSSOnce(t *testing.T) {
	ts, col := startServices(t)
	opts, key := orgOptions(t)
	opts.Level, opts.Timestamper, opts.Validation = LevelBLT, ts, col
	doc, err := signBytes(t, testenv.OnePagePDF("Luu tru"), key, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDSSOnce(t, openBytes(t, doc), "B-LT")
	for round := 1; round <= 3; round++ {
		before, beforeBytes := dssStreams(t, openBytes(t, doc))
		ext, err := Extend(context.Background(), bytes.NewReader(doc), int64(len(doc)), ExtendOptions{Level: LevelBLTA, Timestamper: ts, Validation: col})
		if err != nil {
			t.Fatal(err)
		}
		if len(ext.Unvalidated) != 0 {
			t.Fatalf("round %d: unvalidated %+v", round, ext.Unvalidated)
		}
		doc = append(doc, ext.Tail...)
		r := openBytes(t, doc)
		checkDSSOnce(t, r, "renewal")
		after, afterBytes := dssStreams(t, r)
		t.Logf("round %d: DSS certs/OCSPs/CRLs %d/%d/%d → %d/%d/%d, %d → %d bytes; the revision added %d bytes",
			round, len(before["Certs"]), len(before["OCSPs"]), len(before["CRLs"]),
			len(after["Certs"]), len(after["OCSPs"]), len(after["CRLs"]), beforeBytes, afterBytes, len(ext.Tail))
		if len(after["CRLs"]) != len(before["CRLs"]) && round > 1 {
			t.Errorf("round %d: the same CRLs were added again: %d → %d", round, len(before["CRLs"]), len(after["CRLs"]))
		}
	}
	if n := strings.Count(judge(t, writeTemp(t, "renewed.pdf", doc)).pdfsig, "Signature is Valid."); n != 1 {
		t.Errorf("pdfsig: the signature is not valid after renewals")
	}

	// an earlier writer's duplicate: a new DSS whose /Certs lists a copy of a
	// certificate it already holds, and a VRI entry pointing to the copy
	r := openBytes(t, doc)
	cat, catRef, _ := r.Catalog()
	dss := copyDict(r.Dict(cat["DSS"]))
	certs := r.Array(dss["Certs"])
	first := mustResolve(r, certs[0]).(*pdf.Stream)
	der, _ := first.Decode(1 << 20)
	u := pdf.NewUpdate(r)
	dup := u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: der})
	dss["Certs"] = append(append(pdf.Array(nil), certs...), dup)
	vri := copyDict(r.Dict(dss["VRI"]))
	vri["00DUPLICATE00"] = pdf.Dict{"Cert": pdf.Array{dup}}
	dss["VRI"] = vri
	newCat := copyDict(cat)
	newCat["DSS"] = u.Add(dss)
	u.Set(catRef, newCat)
	upd, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, upd...)
	if planted, _ := dssStreams(t, openBytes(t, doc)); len(planted["Certs"]) != len(certs)+1 {
		t.Fatalf("the duplicate was not planted: %d certificates", len(planted["Certs"]))
	}
	ext, err := Extend(context.Background(), bytes.NewReader(doc), int64(len(doc)), ExtendOptions{Level: LevelBLT, Validation: col})
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, ext.Tail...)
	r = openBytes(t, doc)
	checkDSSOnce(t, r, "after a writer's duplicate")
	cat, _, _ = r.Catalog()
	e := r.Dict(r.Dict(r.Dict(cat["DSS"])["VRI"])["00DUPLICATE00"])
	if got := r.Array(e["Cert"]); len(got) != 1 || got[0] != certs[0] {
		t.Errorf("the duplicate's VRI entry points to %v, want the kept %v", got, certs[0])
	}
}
