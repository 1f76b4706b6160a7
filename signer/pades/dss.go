package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// dssSignature is what the DSS records for one signature: its /Contents value and
// the chains (leaf first) whose validation data it needs.
type dssSignature struct {
	contents []byte
	chains   [][]*x509.Certificate
}

// appended is the original document followed by the revisions written so far.
type appended struct {
	base     io.ReaderAt
	baseSize int64
	tail     []byte
	states   map[crypto.Hash][]byte
}

func (a *appended) size() int64 { return a.baseSize + int64(len(a.tail)) }

func (a *appended) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < a.baseSize {
		m := len(p)
		if int64(m) > a.baseSize-off {
			m = int(a.baseSize - off)
		}
		k, err := a.base.ReadAt(p[:m], off)
		n += k
		if err != nil && !(errors.Is(err, io.EOF) && k == m) {
			return n, err
		}
		off += int64(k)
	}
	if n < len(p) {
		t := off - a.baseSize
		if t >= int64(len(a.tail)) {
			return n, io.EOF
		}
		k := copy(p[n:], a.tail[t:])
		n += k
		if n < len(p) {
			return n, io.EOF
		}
	}
	return n, nil
}

func (a *appended) reader() (*pdf.Reader, error) { return pdf.Open(a, a.size()) }

// addDSS appends a revision with the Document Security Store (ETSI EN 319 142-1, 5.4):
// the certificates, OCSP responses and CRLs that validate each signature's chain and
// its timestamp authority's chain, and a VRI entry per signature.
func addDSS(ctx context.Context, doc *appended, sigs []dssSignature, vs ValidationSource) error {
	if vs == nil {
		return fmt.Errorf("%w: B-LT needs a revocation data source", ErrOptions)
	}
	rd, err := doc.reader()
	if err != nil {
		return err
	}
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return err
	}
	u := pdf.NewUpdate(rd)
	old := rd.Dict(cat["DSS"])
	dss := pdf.Dict{"Type": pdf.Name("DSS")}
	store := map[string]pdf.Ref{}
	lists := map[pdf.Name]pdf.Array{}
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		lists[k] = append(pdf.Array(nil), rd.Array(old[k])...)
	}
	vri := copyDict(rd.Dict(old["VRI"]))
	add := func(list pdf.Name, der []byte) pdf.Ref {
		if r, ok := store[string(der)]; ok {
			return r
		}
		r := u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: der})
		store[string(der)] = r
		lists[list] = append(lists[list], r)
		return r
	}
	for _, sg := range sigs {
		chains := sg.chains
		entry := pdf.Dict{}
		var certs, ocsps, crls pdf.Array
		for _, chain := range chains {
			for _, c := range chain {
				certs = append(certs, add("Certs", c.Raw))
			}
			o, c, err := vs.ValidationData(ctx, chain)
			if err != nil {
				return fmt.Errorf("pades: revocation data for %q: %w", chain[0].Subject.CommonName, err)
			}
			for _, x := range o {
				ocsps = append(ocsps, add("OCSPs", x))
			}
			for _, x := range c {
				crls = append(crls, add("CRLs", x))
			}
		}
		if len(certs) > 0 {
			entry["Cert"] = certs
		}
		if len(ocsps) > 0 {
			entry["OCSP"] = ocsps
		}
		if len(crls) > 0 {
			entry["CRL"] = crls
		}
		entry["TU"] = pdf.String(pdfDate(time.Now()))
		vri[vriKey(sg.contents)] = entry
	}
	for k, v := range lists {
		if len(v) > 0 {
			dss[k] = v
		}
	}
	if len(vri) > 0 {
		dss["VRI"] = vri
	}
	newCat := copyDict(cat)
	newCat["DSS"] = u.Add(dss)
	if documentVersion(rd, cat) == "1.7" {
		ext := copyDict(rd.Dict(cat["Extensions"]))
		ext["ESIC"] = pdf.Dict{"BaseVersion": pdf.Name("1.7"), "ExtensionLevel": int64(5)}
		newCat["Extensions"] = ext
	}
	u.Set(catRef, newCat)
	b, err := u.Bytes()
	if err != nil {
		return err
	}
	doc.tail = append(doc.tail, b...)
	return nil
}

// certsFromSignedData returns the certificates a CMS SignedData carries, with those
// of the signature timestamp tokens in its unsigned attributes.
func certsFromSignedData(der []byte) ([]*x509.Certificate, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, err
	}
	certs := append([]*x509.Certificate(nil), sd.Certificates...)
	for _, si := range sd.SignerInfos {
		for _, a := range si.UnsignedAttrs {
			if !a.Type.Equal(cms.OIDAttrSignatureTimeStampToken) {
				continue
			}
			for _, v := range a.Values {
				if ts, err := cms.Parse(v); err == nil {
					certs = append(certs, ts.Certificates...)
				}
			}
		}
	}
	return certs, nil
}

// recordingTimestamper keeps the tokens it hands out, so that B-LT can gather the
// validation data of the timestamp authority's chain.
type recordingTimestamper struct {
	ts     cms.Timestamper
	tokens [][]byte
}

func (r *recordingTimestamper) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	tok, err := r.ts.Timestamp(ctx, digest, h)
	if err == nil {
		r.tokens = append(r.tokens, tok)
	}
	return tok, err
}

// addDocTimestamp appends a document timestamp revision (/Type /DocTimeStamp,
// /SubFilter /ETSI.RFC3161) over everything written so far: PAdES B-LTA.
func addDocTimestamp(ctx context.Context, doc *appended, ts cms.Timestamper, reserve int) error {
	if ts == nil {
		return fmt.Errorf("%w: B-LTA needs a timestamp authority", ErrOptions)
	}
	rd, err := doc.reader()
	if err != nil {
		return err
	}
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return err
	}
	acroObj := cat["AcroForm"]
	acro := rd.Dict(acroObj)
	if acro == nil {
		acro = pdf.Dict{}
	}
	pages, err := rd.Pages()
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, f := range walkFields(rd, acro) {
		used[f.name] = true
	}
	name := ""
	for i := 1; ; i++ {
		name = fmt.Sprintf("DocTimeStamp%d", i)
		if !used[name] {
			break
		}
	}
	u := pdf.NewUpdate(rd)
	if reserve < 8<<10 {
		reserve = 16 << 10
	}
	sigRef := u.Add(pdf.Dict{
		"Type":      pdf.Name("DocTimeStamp"),
		"Filter":    pdf.Name("Adobe.PPKLite"),
		"SubFilter": pdf.Name("ETSI.RFC3161"),
		"ByteRange": pdf.Raw(byteRangePlaceholder),
		"Contents":  pdf.Raw("<" + strings.Repeat("0", 2*reserve) + ">"),
	})
	o := &Options{}
	fieldRef, err := addNewField(rd, u, name, sigRef, o, pages, new([]pdf.Ref))
	if err != nil {
		return err
	}
	newAcro := copyDict(acro)
	if fl, ok := acro["Fields"].(pdf.Ref); ok {
		arr := append(pdf.Array(nil), rd.Array(fl)...)
		u.Set(fl, append(arr, fieldRef))
	} else {
		arr := append(pdf.Array(nil), rd.Array(acro["Fields"])...)
		newAcro["Fields"] = append(arr, fieldRef)
	}
	newAcro["SigFlags"] = int64(3)
	if ar, ok := acroObj.(pdf.Ref); ok && rd.Dict(ar) != nil {
		u.Set(ar, newAcro)
	} else {
		newCat := copyDict(cat)
		newCat["AcroForm"] = newAcro
		u.Set(catRef, newCat)
	}
	upd, cs, ce, _, err := layOut(u, doc.size(), reserve)
	if err != nil {
		return err
	}
	h, err := resume(crypto.SHA256, doc.states[crypto.SHA256])
	if err != nil {
		return err
	}
	h.Write(doc.tail)
	h.Write(upd[:cs])
	h.Write(upd[ce:])
	tok, err := ts.Timestamp(ctx, h.Sum(nil), crypto.SHA256)
	if err != nil {
		return fmt.Errorf("pades: document timestamp: %w", err)
	}
	if err := embedContents(upd, cs, ce, tok); err != nil {
		return err
	}
	doc.tail = append(doc.tail, upd...)
	return nil
}

// documentVersion is the PDF version a document declares: the later of its header
// and its catalog's /Version.
//
// The ESIC extension (ETSI EN 319 142-1, 5.4.1) extends PDF 1.7 and is declared only
// in a 1.7 file: the /Extensions dictionary does not exist before 1.7, so a 1.4–1.6
// file (PDF/A-1 is 1.4) does not get one, and its version is not raised either (a
// PDF/A-1 file must stay within PDF 1.4); PDF 2.0 has the DSS in its own standard
// and needs no extension. Readers find the DSS in the catalog whatever the version.
func documentVersion(rd *pdf.Reader, cat pdf.Dict) string {
	v := rd.Version
	if cv, ok := cat["Version"].(pdf.Name); ok && versionAfter(string(cv), v) {
		v = string(cv)
	}
	return v
}

// versionAfter reports whether PDF version a ("1.7", "2.0") is later than b.
func versionAfter(a, b string) bool {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	return errA == nil && (errB != nil || x > y)
}
