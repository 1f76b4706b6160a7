package pades

import (
	"context"
	"crypto"
	"crypto/sha256"
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
// the chains (leaf first) whose validation data it needs; name and signer say which
// signature it is in a warning.
type dssSignature struct {
	name, signer string
	contents     []byte
	chains       [][]*x509.Certificate
}

// Unvalidated is a signature whose validation data could not be gathered when the
// document was extended (a foreign signature whose CA's revocation service does not
// answer, a chain the signature does not carry): the DSS got nothing new for it.
type Unvalidated struct {
	// Field is the signature field's name; Signer the signer's common name.
	Field, Signer string
	// Reason is why, as the revocation source said it.
	Reason string
	// Kept: the DSS already held validation data for it (an earlier extension),
	// which stays.
	Kept bool
}

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
//
// The DSS holds each certificate, OCSP response and CRL once, by content, across
// revisions: what an earlier DSS already holds is referred to, not added again (a
// renewal adds only what is new), duplicates an earlier writer left are dropped from
// the lists, and every VRI entry, old or new, points to the one stream kept.
//
// When lenient, a signature whose validation data cannot be gathered is left out
// and returned as Unvalidated (kyso extend, over signatures made elsewhere); else it
// fails the whole revision (a signature Kyso just made must be validated). A lenient
// call that can validate no signature at all fails too, naming them.
func addDSS(ctx context.Context, doc *appended, sigs []dssSignature, vs ValidationSource, lenient bool) ([]Unvalidated, error) {
	if vs == nil {
		return nil, fmt.Errorf("%w: B-LT needs a revocation data source", ErrOptions)
	}
	rd, err := doc.reader()
	if err != nil {
		return nil, err
	}
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return nil, err
	}
	u := pdf.NewUpdate(rd)
	old := rd.Dict(cat["DSS"])
	dss := pdf.Dict{"Type": pdf.Name("DSS")}
	// store maps the SHA-256 of a stream's content to the one stream kept for it;
	// replaced maps a dropped duplicate to it.
	store := map[[32]byte]pdf.Ref{}
	replaced := map[pdf.Ref]pdf.Ref{}
	lists := map[pdf.Name]pdf.Array{}
	for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs"} {
		for _, o := range rd.Array(old[k]) {
			ref, isRef := o.(pdf.Ref)
			st, ok := mustResolve(rd, o).(*pdf.Stream)
			if !isRef || !ok {
				lists[k] = append(lists[k], o)
				continue
			}
			data, err := st.Decode(maxDSSEntry)
			if err != nil {
				lists[k] = append(lists[k], o)
				continue
			}
			sum := sha256.Sum256(data)
			if kept, dup := store[sum]; dup {
				replaced[ref] = kept
				continue
			}
			store[sum] = ref
			lists[k] = append(lists[k], ref)
		}
	}
	vri := pdf.Dict{}
	for key, e := range rd.Dict(old["VRI"]) {
		entry := copyDict(rd.Dict(e))
		for _, k := range []pdf.Name{"Cert", "OCSP", "CRL"} {
			if arr := rd.Array(entry[k]); len(arr) > 0 {
				entry[k] = dedupeRefs(arr, replaced)
			}
		}
		vri[key] = entry
	}
	add := func(list pdf.Name, der []byte) pdf.Ref {
		sum := sha256.Sum256(der)
		if r, ok := store[sum]; ok {
			return r
		}
		r := u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: der})
		store[sum] = r
		lists[list] = append(lists[list], r)
		return r
	}
	var skipped []Unvalidated
	added := 0
	for _, sg := range sigs {
		// gather everything first: a signature gets all of its entry or none
		var certs [][]byte
		var ocspData, crlData [][]byte
		var failure error
		for _, chain := range sg.chains {
			o, c, err := vs.ValidationData(ctx, chain)
			if err != nil {
				failure = fmt.Errorf("pades: revocation data for %q: %w", chain[0].Subject.CommonName, err)
				break
			}
			for _, c := range chain {
				certs = append(certs, c.Raw)
			}
			ocspData = append(ocspData, o...)
			crlData = append(crlData, c...)
		}
		if failure == nil && len(sg.chains) == 0 {
			failure = errors.New("pades: the signature carries no certificate chain")
		}
		if failure != nil {
			if !lenient || ctx.Err() != nil {
				return nil, failure
			}
			_, kept := vri[vriKey(sg.contents)]
			skipped = append(skipped, Unvalidated{Field: sg.name, Signer: sg.signer, Reason: failure.Error(), Kept: kept})
			continue
		}
		entry := pdf.Dict{}
		var cr, or, lr pdf.Array
		for _, x := range certs {
			cr = appendRef(cr, add("Certs", x))
		}
		for _, x := range ocspData {
			or = appendRef(or, add("OCSPs", x))
		}
		for _, x := range crlData {
			lr = appendRef(lr, add("CRLs", x))
		}
		if len(cr) > 0 {
			entry["Cert"] = cr
		}
		if len(or) > 0 {
			entry["OCSP"] = or
		}
		if len(lr) > 0 {
			entry["CRL"] = lr
		}
		entry["TU"] = pdf.String(pdfDate(time.Now()))
		vri[vriKey(sg.contents)] = entry
		added++
	}
	if added == 0 && len(skipped) > 0 {
		return skipped, fmt.Errorf("%w: %s", ErrNoValidationData, describeUnvalidated(skipped))
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
		return nil, err
	}
	doc.tail = append(doc.tail, b...)
	return skipped, nil
}

// maxDSSEntry bounds one DSS stream read back for deduplication (a large CRL).
const maxDSSEntry = 64 << 20

// ErrNoValidationData: extending found validation data for none of the signatures.
var ErrNoValidationData = errors.New("pades: no validation data for any signature")

// appendRef appends r unless the list already holds it.
func appendRef(list pdf.Array, r pdf.Ref) pdf.Array {
	for _, o := range list {
		if o == r {
			return list
		}
	}
	return append(list, r)
}

// dedupeRefs maps dropped duplicates to the stream kept, each once.
func dedupeRefs(arr pdf.Array, replaced map[pdf.Ref]pdf.Ref) pdf.Array {
	var out pdf.Array
	for _, o := range arr {
		if r, ok := o.(pdf.Ref); ok {
			if k, dup := replaced[r]; dup {
				o = k
			}
			out = appendRef(out, o.(pdf.Ref))
			continue
		}
		out = append(out, o)
	}
	return out
}

// describeUnvalidated names the signatures and why, for an error or a warning.
func describeUnvalidated(us []Unvalidated) string {
	parts := make([]string, len(us))
	for i, x := range us {
		parts[i] = fmt.Sprintf("signature %q (%s): %s", x.Field, x.Signer, x.Reason)
	}
	return strings.Join(parts, "; ")
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
