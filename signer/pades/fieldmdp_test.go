package pades

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kyso-vn/kyso/internal/testenv"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// fieldMDPOf reads back, with Kyso's own reader, the FieldMDP reference of the
// signature in field name and that field's /Lock.
func fieldMDPOf(t *testing.T, doc []byte, name string) (ref, params pdf.Dict, fieldLock lockSpec, rd *pdf.Reader) {
	t.Helper()
	rd = openBytes(t, doc)
	cat, _, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range walkFields(rd, rd.Dict(cat["AcroForm"])) {
		if f.name != name {
			continue
		}
		sig := rd.Dict(f.dict["V"])
		if sig == nil {
			t.Fatalf("field %q is not signed", name)
		}
		if l := rd.Dict(f.dict["Lock"]); l != nil {
			if fieldLock, err = readLock(rd, l); err != nil {
				t.Fatalf("the /Lock of %q written back: %v", name, err)
			}
		}
		for _, r := range rd.Array(sig["Reference"]) {
			if d := rd.Dict(r); d["TransformMethod"] == pdf.Name("FieldMDP") {
				if ref != nil {
					t.Fatalf("two FieldMDP references in %q", name)
				}
				ref, params = d, rd.Dict(d["TransformParams"])
			}
		}
		return ref, params, fieldLock, rd
	}
	t.Fatalf("no field %q", name)
	return nil, nil, lockSpec{}, nil
}

// outsideJudges has pdfsig verify every signature of doc and qpdf --check find
// nothing wrong.
func outsideJudges(t *testing.T, doc []byte, signatures int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	j := judge(t, path)
	// an empty field may come last in pdfsig's list: any signature covering all will do
	total := strings.Contains(j.pdfsig, "Total document signed")
	if n := strings.Count(j.pdfsig, "Signature Validation: Signature is Valid."); n != signatures || !total {
		t.Errorf("pdfsig: %d valid signatures, want %d; one covers the whole document: %v\n%s", n, signatures, total, j.pdfsig)
	}
	if errs := qpdfErrors(j.qpdf); len(errs) > 0 {
		t.Errorf("qpdf --check: %v", errs)
	}
}

// TestFieldMDPReference: signing a field whose /Lock locks other fields writes the
// FieldMDP signature reference made from that lock (and from Options.LockFields),
// which Kyso's reader reads back and pdfsig and qpdf accept.
func TestFieldMDPReference(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lock       string
		lockFields []string
		action     pdf.Name
		fields     []string
		p          int64
	}{
		{"Include from the field", "<< /Type /SigFieldLock /Action /Include /Fields [(so) (ngay)] >>", nil, "Include", []string{"so", "ngay"}, 0},
		{"Exclude from the field", "<< /Type /SigFieldLock /Action /Exclude /Fields [(ghichu) (VanThu)] >>", nil, "Exclude", []string{"ghichu", "VanThu"}, 0},
		{"All, an indirect-free lock without /Type", "<< /Action /All >>", nil, "All", nil, 0},
		{"PDF 2.0 /P", "<< /Type /SigFieldLock /Action /Include /Fields [(so)] /P 2 >>", nil, "Include", []string{"so"}, 2},
		{"the field's Include and Kyso's number field", "<< /Type /SigFieldLock /Action /Include /Fields [(so)] >>", []string{"ngay"}, "Include", []string{"so", "ngay"}, 0},
		{"the field's Exclude narrowed by Kyso's date field", "<< /Type /SigFieldLock /Action /Exclude /Fields [(ngay) (ghichu)] >>", []string{"ngay"}, "Exclude", []string{"ghichu"}, 0},
		{"no lock on the field, Kyso's own", "", []string{"so"}, "Include", []string{"so"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, key := orgOptions(t)
			opts.Field, opts.LockFields = "LanhDao", tc.lockFields
			out, err := signBytes(t, testenv.LockedFormPDF(tc.lock, ""), key, opts)
			if err != nil {
				t.Fatal(err)
			}
			ref, params, fieldLock, rd := fieldMDPOf(t, out, "LanhDao")
			if ref == nil {
				t.Fatal("no FieldMDP reference in the signature dictionary")
			}
			_, catRef, _ := rd.Catalog()
			if ref["Type"] != pdf.Name("SigRef") || ref["DigestMethod"] != pdf.Name("SHA256") || ref["Data"] != catRef {
				t.Errorf("reference %v", ref)
			}
			if params["Type"] != pdf.Name("TransformParams") || params["V"] != pdf.Name("1.2") {
				t.Errorf("transform parameters %v", params)
			}
			got, err := readLock(rd, params)
			if err != nil {
				t.Fatal(err)
			}
			want := lockSpec{action: tc.action, fields: tc.fields, p: tc.p}
			if !got.equal(want) {
				t.Errorf("transform parameters say %+v, want %+v", got, want)
			}
			// the field's lock says the same as the signature
			if !fieldLock.equal(want) {
				t.Errorf("the field's /Lock says %+v, want %+v", fieldLock, want)
			}
			outsideJudges(t, out, 1)
		})
	}
}

// TestFieldMDPHonoured: what a signed field's lock forbids, Kyso refuses to sign,
// whoever made the lock; a lock nobody can read is refused before signing; the
// stricter DocMDP permission of a PDF 2.0 lock wins.
func TestFieldMDPHonoured(t *testing.T) {
	opts, key := orgOptions(t)
	signField := func(t *testing.T, doc []byte, field string, change func(*Options)) ([]byte, error) {
		t.Helper()
		o := opts
		o.Field = field
		if change != nil {
			change(&o)
		}
		return signBytes(t, doc, key, o)
	}
	mustSign := func(t *testing.T, doc []byte, field string) []byte {
		t.Helper()
		out, err := signField(t, doc, field, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("All locks the other signature field and the number, not a new field", func(t *testing.T) {
		signed := mustSign(t, testenv.LockedFormPDF("<< /Type /SigFieldLock /Action /All >>", ""), "LanhDao")
		if _, err := signField(t, signed, "VanThu", nil); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), `"LanhDao"`) {
			t.Errorf("signing the locked field VanThu: %v", err)
		}
		if _, err := signField(t, signed, "", func(o *Options) { o.Metadata = &Metadata{Fields: map[string]string{"so": "05/UBND-VP"}} }); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("filling the locked number field: %v", err)
		}
		if _, err := signField(t, signed, "", nil); err != nil {
			t.Errorf("a new signature field: %v", err)
		}
	})
	t.Run("Exclude leaves the clerk's field free", func(t *testing.T) {
		signed := mustSign(t, testenv.LockedFormPDF("<< /Action /Exclude /Fields [(VanThu)] >>", ""), "LanhDao")
		out := mustSign(t, signed, "VanThu")
		outsideJudges(t, out, 2)
	})
	t.Run("the stricter permission of two locks", func(t *testing.T) {
		doc := testenv.LockedFormPDF("<< /Action /Include /Fields [(so)] /P 2 >>", "<< /Action /Include /Fields [(ngay)] /P 3 >>")
		out := mustSign(t, mustSign(t, doc, "LanhDao"), "VanThu")
		_, params, _, rd := fieldMDPOf(t, out, "VanThu")
		if p, _ := rd.Int(params["P"]); p != 2 {
			t.Errorf("the clerk's lock says P=3 after the leader's P=2: written P=%d, want 2", p)
		}
		outsideJudges(t, out, 2)
	})
	t.Run("P=1 in a lock ends signing", func(t *testing.T) {
		signed := mustSign(t, testenv.LockedFormPDF("<< /Action /Include /Fields [(so)] /P 1 >>", ""), "LanhDao")
		for _, field := range []string{"VanThu", ""} {
			if _, err := signField(t, signed, field, nil); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "P=1") {
				t.Errorf("signing %q after a lock with P=1: %v", field, err)
			}
		}
	})
	t.Run("a certification tightened by the field's lock", func(t *testing.T) {
		out, err := signField(t, testenv.LockedFormPDF("<< /Action /Include /Fields [(so)] /P 2 >>", ""), "LanhDao",
			func(o *Options) { o.Certify = CertifyAnnotations })
		if err != nil {
			t.Fatal(err)
		}
		rd := openBytes(t, out)
		cat, _, _ := rd.Catalog()
		if p := docMDP(rd, cat); p != 2 {
			t.Errorf("certification P=3 in a field locked with P=2: DocMDP P=%d, want 2", p)
		}
	})
	for _, bad := range []string{
		"<< /Action /Sometimes >>",
		"<< /Action /Include >>",
		"<< /Action /Exclude /Fields [1 2] >>",
		"<< /Action /All /P 7 >>",
		"<< /Fields [(so)] >>",
	} {
		t.Run("refused: "+bad, func(t *testing.T) {
			doc := testenv.LockedFormPDF(bad, "")
			if _, err := signField(t, doc, "LanhDao", nil); !errors.Is(err, ErrField) || !strings.Contains(err.Error(), "/Lock") {
				t.Errorf("signing a field with the lock %s: %v", bad, err)
			}
		})
	}
	t.Run("an excluded parent cannot be narrowed", func(t *testing.T) {
		_, err := signField(t, testenv.LockedFormPDF("<< /Action /Exclude /Fields [(header)] >>", ""), "LanhDao",
			func(o *Options) { o.LockFields = []string{"header.so"} })
		if !errors.Is(err, ErrField) {
			t.Errorf("locking header.so under a lock excluding header: %v", err)
		}
	})
}

// TestLockSpec: which fields a lock covers, and the lock with Kyso's fields added.
func TestLockSpec(t *testing.T) {
	all := lockSpec{action: "All"}
	inc := lockSpec{action: "Include", fields: []string{"so", "header"}}
	exc := lockSpec{action: "Exclude", fields: []string{"ghichu"}}
	for _, c := range []struct {
		l    lockSpec
		name string
		want bool
	}{
		{all, "anything", true}, {inc, "so", true}, {inc, "header.ngay", true}, {inc, "sothe", false},
		{inc, "ghichu", false}, {exc, "ghichu", false}, {exc, "ghichu.a", false}, {exc, "so", true},
	} {
		if got := c.l.covers(c.name); got != c.want {
			t.Errorf("%+v covers %q: %v", c.l, c.name, got)
		}
	}
	for _, c := range []struct {
		l    lockSpec
		add  []string
		want lockSpec
	}{
		{lockSpec{}, []string{"so"}, lockSpec{action: "Include", fields: []string{"so"}}},
		{all, []string{"so"}, all},
		{inc, []string{"so", "ngay"}, lockSpec{action: "Include", fields: []string{"so", "header", "ngay"}}},
		{lockSpec{action: "Exclude", fields: []string{"ngay", "ghichu", "ngay.ngay"}, p: 2}, []string{"ngay"}, lockSpec{action: "Exclude", fields: []string{"ghichu"}, p: 2}},
	} {
		got, err := c.l.with(c.add)
		if err != nil || !got.equal(c.want) {
			t.Errorf("%+v with %v = %+v, %v; want %+v", c.l, c.add, got, err, c.want)
		}
	}
	if got := lockPermission(3, 2); got != 2 {
		t.Errorf("a lock's P=3 after P=2: %d", got)
	}
	if got := lockPermission(2, 0); got != 2 {
		t.Errorf("a lock's P=2 alone: %d", got)
	}
	if got := lockPermission(0, 1); got != 0 {
		t.Errorf("a lock without P: %d", got)
	}
	if !slices.Equal(inc.fields, []string{"so", "header"}) {
		t.Error("with changed the lock it was called on")
	}
}
