package pades

import (
	"fmt"
	"math"
	"strings"

	"github.com/kyso-vn/kyso/pkg/fault"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// field is a terminal form field met while walking /AcroForm /Fields.
type field struct {
	name string
	ref  pdf.Ref
	dict pdf.Dict
	ft   pdf.Name
}

// walkFields lists the terminal fields with their full names, bounded against cycles.
func walkFields(rd *pdf.Reader, acro pdf.Dict) []field {
	var out []field
	seen := map[int]bool{}
	var walk func(o pdf.Object, parent string, ft pdf.Name, depth int)
	walk = func(o pdf.Object, parent string, ft pdf.Name, depth int) {
		ref, isRef := o.(pdf.Ref)
		if depth > 32 || (isRef && seen[ref.Num]) || len(out) > 100000 {
			return
		}
		if isRef {
			seen[ref.Num] = true
		}
		d := rd.Dict(o)
		if d == nil {
			return
		}
		name := parent
		if t, ok := d["T"].(pdf.String); ok {
			if name != "" {
				name += "."
			}
			name += pdf.DecodeText(t)
		}
		if f, ok := d["FT"].(pdf.Name); ok {
			ft = f
		}
		kids := rd.Array(d["Kids"])
		hasFieldKids := false
		for _, k := range kids {
			if kd := rd.Dict(k); kd != nil {
				if _, ok := kd["T"]; ok {
					hasFieldKids = true
				}
			}
		}
		if !hasFieldKids {
			out = append(out, field{name: name, ref: ref, dict: d, ft: ft})
			return
		}
		for _, k := range kids {
			walk(k, name, ft, depth+1)
		}
	}
	for _, f := range rd.Array(acro["Fields"]) {
		walk(f, "", "", 0)
	}
	return out
}

func copyDict(d pdf.Dict) pdf.Dict {
	out := make(pdf.Dict, len(d)+4)
	for k, v := range d {
		out[k] = v
	}
	return out
}

// docMDP returns the DocMDP permission in force (0 when the document is not
// certified).
func docMDP(rd *pdf.Reader, cat pdf.Dict) int64 {
	perms := rd.Dict(cat["Perms"])
	if perms == nil {
		return 0
	}
	sig := rd.Dict(perms["DocMDP"])
	if sig == nil {
		return 0
	}
	for _, r := range rd.Array(sig["Reference"]) {
		rd2 := rd.Dict(r)
		if rd2 == nil || rd2["TransformMethod"] != pdf.Name("DocMDP") {
			continue
		}
		if p, ok := rd.Int(rd.Dict(rd2["TransformParams"])["P"]); ok {
			return p
		}
		return 2
	}
	return 2
}

// buildSignatureUpdate lays out the signature dictionary, its field and widget, and
// the changed page, AcroForm and catalog. It refuses what the permissions forbid.
func buildSignatureUpdate(rd *pdf.Reader, o *Options, reserve int) (*pdf.Update, string, error) {
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return nil, "", err
	}
	acroObj := cat["AcroForm"]
	acro := rd.Dict(acroObj)
	if acro == nil {
		acro = pdf.Dict{}
	}
	fields := walkFields(rd, acro)
	signed := 0
	for _, f := range fields {
		if f.ft == "Sig" && rd.Dict(f.dict["V"]) != nil {
			signed++
		}
	}
	inForce, by := permissionInForce(rd, cat, fields)
	if inForce == 1 {
		return nil, "", fmt.Errorf("%w: %s allows no changes (DocMDP P=1)", ErrNotAllowed, by)
	}
	if o.Certify != CertifyNone && (signed > 0 || rd.Dict(cat["Perms"])["DocMDP"] != nil) {
		return nil, "", fmt.Errorf("%w: a certification signature must be the document's first signature", ErrNotAllowed)
	}
	name := o.Field
	var target *field
	if name != "" {
		for i := range fields {
			if fields[i].name == name {
				target = &fields[i]
				break
			}
		}
		if by, locked := lockedBy(rd, fields, name); locked && target != nil {
			return nil, "", fmt.Errorf("%w: field %q is locked by the signature in %q (FieldMDP)", ErrNotAllowed, name, by)
		}
	} else {
		used := map[string]bool{}
		for _, f := range fields {
			used[f.name] = true
		}
		for i := 1; ; i++ {
			name = fmt.Sprintf("Signature%d", i)
			if !used[name] {
				break
			}
		}
	}
	if target != nil {
		if target.ft != "Sig" {
			return nil, "", fmt.Errorf("%w: %q is not a signature field", ErrField, name)
		}
		if rd.Dict(target.dict["V"]) != nil {
			return nil, "", fmt.Errorf("%w: %q is already signed", ErrField, name)
		}
		if target.ref.Num == 0 {
			return nil, "", fmt.Errorf("%w: %q is not an indirect object", ErrField, name)
		}
	}

	if o.Metadata != nil {
		for n := range o.Metadata.Fields {
			if by, locked := lockedBy(rd, fields, n); locked {
				return nil, "", fmt.Errorf("%w: field %q is locked by the signature in %q (FieldMDP)", ErrNotAllowed, n, by)
			}
		}
	}
	lock, newLock, err := signingLock(rd, target, o)
	if err != nil {
		return nil, "", err
	}

	u := pdf.NewUpdate(rd)
	sigRef := u.Alloc()
	sig := pdf.Dict{
		"Type":       pdf.Name("Sig"),
		"Filter":     pdf.Name("Adobe.PPKLite"),
		"SubFilter":  pdf.Name("ETSI.CAdES.detached"),
		"ByteRange":  pdf.Raw(byteRangePlaceholder),
		"Contents":   pdf.Raw("<" + strings.Repeat("0", 2*reserve) + ">"),
		"M":          pdf.String(pdfDate(o.Time)),
		"Prop_Build": pdf.Dict{"App": pdf.Dict{"Name": pdf.Name("Kyso")}},
	}
	for k, v := range map[pdf.Name]string{"Reason": o.Reason, "Location": o.Location, "ContactInfo": o.ContactInfo, "Name": o.Name} {
		if v != "" {
			sig[k] = pdf.TextString(v)
		}
	}
	newCat := copyDict(cat)
	catChanged := false
	var refs pdf.Array
	if o.Certify != CertifyNone {
		p := int64(o.Certify)
		if lock != nil && lock.p != 0 && lock.p < p {
			p = lock.p // a field's lock may only tighten the certification
		}
		refs = append(refs, pdf.Dict{
			"Type":            pdf.Name("SigRef"),
			"TransformMethod": pdf.Name("DocMDP"),
			"DigestMethod":    digestMethod(o.Hash),
			"TransformParams": pdf.Dict{"Type": pdf.Name("TransformParams"), "P": p, "V": pdf.Name("1.2")},
		})
	}
	if lock != nil {
		refs = append(refs, fieldMDPReference(*lock, lockPermission(lock.p, inForce), catRef, o.Hash))
	}
	if len(refs) > 0 {
		sig["Reference"] = refs
	}
	if o.Certify != CertifyNone {
		perms := copyDict(rd.Dict(cat["Perms"]))
		perms["DocMDP"] = sigRef
		newCat["Perms"] = perms
		catChanged = true
	}
	u.Set(sigRef, sig)

	pages, err := rd.Pages()
	if err != nil {
		return nil, "", err
	}
	if target != nil {
		if len(o.Blanks) > 0 {
			return nil, "", fmt.Errorf("%w: blank fields are made with a new signature field, not in the existing %q", ErrOptions, name)
		}
		if err := signExistingField(rd, u, target, sigRef, newLock, o, pages); err != nil {
			return nil, "", err
		}
	} else {
		var blanks []pdf.Ref
		fieldRef, err := addNewField(rd, u, name, sigRef, o, pages, &blanks)
		if err != nil {
			return nil, "", err
		}
		newAcro := copyDict(acro)
		switch fl := acro["Fields"].(type) {
		case pdf.Ref:
			arr := append(pdf.Array(nil), rd.Array(fl)...)
			u.Set(fl, append(append(arr, fieldRef), refsArray(blanks)...))
		default:
			arr := append(pdf.Array(nil), rd.Array(fl)...)
			newAcro["Fields"] = append(append(arr, fieldRef), refsArray(blanks)...)
		}
		if len(blanks) > 0 {
			addHelv(rd, newAcro)
		}
		newAcro["SigFlags"] = int64(3)
		if ar, ok := acroObj.(pdf.Ref); ok && rd.Dict(ar) != nil {
			u.Set(ar, newAcro)
		} else {
			newCat["AcroForm"] = newAcro
			catChanged = true
		}
	}
	if target != nil {
		// SigFlags 3 (signatures exist, append only) when the form did not say so yet.
		if f, _ := rd.Int(acro["SigFlags"]); f&3 != 3 {
			newAcro := copyDict(acro)
			newAcro["SigFlags"] = f | 3
			if ar, ok := acroObj.(pdf.Ref); ok {
				u.Set(ar, newAcro)
			} else {
				newCat["AcroForm"] = newAcro
				catChanged = true
			}
		}
	}
	if o.Metadata != nil {
		changed, err := applyMetadata(rd, u, o.Metadata, cat, newCat, fields)
		if err != nil {
			return nil, "", err
		}
		catChanged = catChanged || changed
	}
	if catChanged {
		u.Set(catRef, newCat)
	}
	return u, name, nil
}

// signExistingField fills the empty signature field f; lock, when set, replaces the
// field's /Lock (the field's own with the fields Kyso locks added).
func signExistingField(rd *pdf.Reader, u *pdf.Update, f *field, sigRef pdf.Ref, lock pdf.Dict, o *Options, pages []pdf.Ref) error {
	nd := copyDict(f.dict)
	nd["V"] = sigRef
	if lock != nil {
		nd["Lock"] = lock
	}
	// The widget: the field itself when merged, else its first kid.
	widgetRef, widget := f.ref, nd
	if _, merged := nd["Subtype"]; !merged {
		if kids := rd.Array(nd["Kids"]); len(kids) > 0 {
			if kr, ok := kids[0].(pdf.Ref); ok {
				widgetRef, widget = kr, copyDict(rd.Dict(kr))
			}
		}
	}
	if o.Appearance != nil {
		rect := o.Appearance.Rect
		if rect == ([4]float64{}) {
			if r := rd.Array(widget["Rect"]); len(r) > 0 {
				var err error
				if rect, err = coords(rd, r, fmt.Sprintf("the /Rect of field %q", f.name)); err != nil {
					return err
				}
			}
		}
		pageRef, _ := widget["P"].(pdf.Ref)
		if pageRef.Num == 0 && len(pages) > 0 {
			pageRef = pages[0]
		}
		ap, r, err := o.Appearance.build(rd, u, pageRef, rect, o)
		if err != nil {
			return err
		}
		widget["AP"] = pdf.Dict{"N": ap}
		if r != rect {
			// the appearance grew (a seal reaching past the field): so does the widget
			widget["Rect"] = pdf.Array{r[0], r[1], r[2], r[3]}
		}
	}
	u.Set(f.ref, nd)
	if widgetRef != f.ref {
		u.Set(widgetRef, widget)
	}
	return nil
}

func addNewField(rd *pdf.Reader, u *pdf.Update, name string, sigRef pdf.Ref, o *Options, pages []pdf.Ref, newFields *[]pdf.Ref) (pdf.Ref, error) {
	pageNo := 1
	if o.Appearance != nil && o.Appearance.Page > 0 {
		pageNo = o.Appearance.Page
	}
	if pageNo > len(pages) {
		return pdf.Ref{}, fmt.Errorf("%w: page %d does not exist (the document has %d)", ErrOptions, pageNo, len(pages))
	}
	pageRef := pages[pageNo-1]
	w := pdf.Dict{
		"FT":      pdf.Name("Sig"),
		"T":       pdf.TextString(name),
		"V":       sigRef,
		"Type":    pdf.Name("Annot"),
		"Subtype": pdf.Name("Widget"),
		"F":       int64(132), // Print | Locked
		"P":       pageRef,
		"Rect":    pdf.Array{int64(0), int64(0), int64(0), int64(0)},
	}
	if lock := fieldLock(o); lock != nil {
		w["Lock"] = lock
	}
	fieldRef := u.Alloc()
	if o.Appearance != nil {
		ap, r, err := o.Appearance.build(rd, u, pageRef, o.Appearance.Rect, o)
		if err != nil {
			return pdf.Ref{}, err
		}
		w["AP"] = pdf.Dict{"N": ap}
		w["Rect"] = pdf.Array{r[0], r[1], r[2], r[3]}
	}
	u.Set(fieldRef, w)
	annots := map[int][]pdf.Ref{pageNo: {fieldRef}}
	if len(o.Blanks) > 0 {
		var avoid [][4]float64
		if pageNo == 1 {
			avoid = append(avoid, rectOf(w["Rect"]))
		}
		blanks, err := placeLookup(rd, o.Blanks, pages, avoid)
		if err != nil {
			return pdf.Ref{}, err
		}
		more, err := blankFields(rd, u, blanks, pages)
		if err != nil {
			return pdf.Ref{}, err
		}
		for p, refs := range more {
			annots[p] = append(annots[p], refs...)
		}
		*newFields = append(*newFields, flatten(more, len(pages))...)
	}
	for p, refs := range annots {
		if err := addAnnots(rd, u, pages[p-1], p, refs); err != nil {
			return pdf.Ref{}, err
		}
	}
	return fieldRef, nil
}

// addAnnots lists new annotations on a page.
func addAnnots(rd *pdf.Reader, u *pdf.Update, pageRef pdf.Ref, pageNo int, refs []pdf.Ref) error {
	page := rd.Dict(pageRef)
	if page == nil {
		return fmt.Errorf("%w: page %d is not a dictionary", pdf.ErrDamaged, pageNo)
	}
	add := make(pdf.Array, 0, len(refs))
	for _, r := range refs {
		add = append(add, r)
	}
	if ar, ok := page["Annots"].(pdf.Ref); ok && rd.Array(ar) != nil {
		arr := append(pdf.Array(nil), rd.Array(ar)...)
		u.Set(ar, append(arr, add...))
	} else {
		np := copyDict(page)
		arr := append(pdf.Array(nil), rd.Array(page["Annots"])...)
		np["Annots"] = append(arr, add...)
		u.Set(pageRef, np)
	}
	return nil
}

// rectOf reads a rectangle this package wrote (four numbers).
func rectOf(o pdf.Object) [4]float64 {
	var r [4]float64
	if a, ok := o.(pdf.Array); ok && len(a) == 4 {
		for i := range r {
			r[i] = number(a[i])
		}
	}
	return r
}

func number(o pdf.Object) float64 {
	switch v := o.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// maxCoord bounds the coordinates Kyso lays an appearance out with: a page of the
// largest size PDF allows (14,400 units, 200 inches, times a generous user unit) is
// well inside it; 1e309, an integer of 20 digits or NaN is not a place on a page.
const maxCoord = 1e6

func usableCoord(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) <= maxCoord
}

// coords reads a rectangle (/Rect, /MediaBox) of the document: four numbers that are
// places on a page, else a BadDocument fault naming what is wrong.
func coords(rd *pdf.Reader, a pdf.Array, what string) ([4]float64, error) {
	var out [4]float64
	if len(a) != 4 {
		return out, badDocument("%s has %d numbers, not 4", what, len(a))
	}
	for i, o := range a {
		if v, err := rd.Resolve(o); err == nil {
			o = v
		}
		switch o.(type) {
		case int64, float64:
		default:
			return out, badDocument("%s holds %s, which is not a number", what, describe(o))
		}
		out[i] = number(o)
		if !usableCoord(out[i]) {
			return out, badDocument("%s holds %s, which is not a place on a page", what, describe(o))
		}
	}
	return out, nil
}

// badDocument is a BadDocument fault caused by a damaged document (pdf.ErrDamaged, so
// that callers that branch on it still do).
func badDocument(format string, a ...any) error {
	return fault.Wrap(fault.BadDocument, pdf.ErrDamaged, fmt.Sprintf(format, a...))
}

// describe shows a value of the document in an error, shortened.
func describe(o pdf.Object) string {
	b, err := pdf.MarshalBytes(o)
	if err != nil {
		b = []byte(fmt.Sprintf("%v", o))
	}
	if len(b) > 40 {
		b = append(b[:40], "…"...)
	}
	return string(b)
}

// rotation is a page's /Rotate (inherited), normalised to 0, 90, 180 or 270; a value
// that is not a whole multiple of 90 within ±3600 is a BadDocument fault.
func rotation(rd *pdf.Reader, page pdf.Dict) (int64, error) {
	o, err := rd.Resolve(rd.Inherited(page, "Rotate"))
	if err != nil || o == nil {
		return 0, nil
	}
	var r int64
	switch v := o.(type) {
	case int64:
		r = v
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 3600 {
			return 0, badDocument("the page's /Rotate %s is not a multiple of 90", describe(o))
		}
		r = int64(v)
	default:
		return 0, badDocument("the page's /Rotate %s is not a number", describe(o))
	}
	if r%90 != 0 || r > 3600 || r < -3600 {
		return 0, badDocument("the page's /Rotate %s is not a multiple of 90", describe(o))
	}
	return ((r % 360) + 360) % 360, nil
}

// LastVisibleSignature finds the last signed signature field with a visible widget:
// its page (1-based) and rectangle, where the clerk lays the seal.
func LastVisibleSignature(rd *pdf.Reader) (page int, rect [4]float64, ok bool) {
	page, rect, _, ok = lastVisibleSignature(rd)
	return page, rect, ok
}

// LastSignatureImage is the box (x, y, width, height) of the image drawn in the
// appearance of LastVisibleSignature, in that appearance's upright space (its
// origin the lower left corner of the rectangle as the reader sees the page), as
// Kyso draws a leader's signature image: fitted in the rectangle and centred. ok is
// false when the appearance draws no image that Kyso can place (then the whole
// rectangle stands for it).
func LastSignatureImage(rd *pdf.Reader) (box [4]float64, ok bool) {
	_, _, widget, found := lastVisibleSignature(rd)
	if !found {
		return box, false
	}
	ap, _ := mustResolve(rd, rd.Dict(widget["AP"])["N"]).(*pdf.Stream)
	if ap == nil {
		return box, false
	}
	bb, err := coords(rd, rd.Array(ap.Dict["BBox"]), "the appearance's /BBox")
	if err != nil || bb[0] != 0 || bb[1] != 0 {
		return box, false
	}
	data, err := ap.Decode(1 << 20)
	if err != nil {
		return box, false
	}
	xobjs := rd.Dict(rd.Dict(ap.Dict["Resources"])["XObject"])
	lx := &contentLexer{b: data}
	ctm := identity
	var stack []matrix
	var operands []any
	for n := 0; n < 10_000; n++ {
		tok, more := lx.next()
		if !more {
			break
		}
		op, isOp := tok.(opToken)
		if !isOp {
			if len(operands) < 16 {
				operands = append(operands, tok)
			}
			continue
		}
		switch string(op) {
		case "q":
			stack = append(stack, ctm)
		case "Q":
			if len(stack) > 0 {
				ctm, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
		case "cm":
			if len(operands) == 6 {
				var m matrix
				for i := range m {
					m[i], _ = operands[i].(float64)
				}
				ctm = m.mul(ctm)
			}
		case "Do":
			if len(operands) == 1 {
				name, _ := operands[0].(pdf.Name)
				img, _ := mustResolve(rd, xobjs[name]).(*pdf.Stream)
				if img != nil && img.Dict["Subtype"] == pdf.Name("Image") && ctm[1] == 0 && ctm[2] == 0 && ctm[0] > 0 && ctm[3] > 0 {
					box = [4]float64{ctm[4], ctm[5], ctm[0], ctm[3]}
					if box[0] >= -0.01 && box[1] >= -0.01 && box[0]+box[2] <= bb[2]+0.01 && box[1]+box[3] <= bb[3]+0.01 {
						return box, true
					}
					return [4]float64{}, false
				}
			}
		}
		operands = operands[:0]
	}
	return [4]float64{}, false
}

func lastVisibleSignature(rd *pdf.Reader) (page int, rect [4]float64, widgetDict pdf.Dict, ok bool) {
	cat, _, err := rd.Catalog()
	if err != nil {
		return 0, rect, nil, false
	}
	pages, err := rd.Pages()
	if err != nil {
		return 0, rect, nil, false
	}
	for _, f := range walkFields(rd, rd.Dict(cat["AcroForm"])) {
		if f.ft != "Sig" || rd.Dict(f.dict["V"]) == nil {
			continue
		}
		widget := f.dict
		if _, merged := widget["Subtype"]; !merged {
			if kids := rd.Array(widget["Kids"]); len(kids) > 0 {
				widget = rd.Dict(kids[0])
			}
		}
		r := rd.Array(widget["Rect"])
		if len(r) != 4 {
			continue
		}
		rc, err := coords(rd, r, "a signature's /Rect")
		if err != nil || rc[2] == rc[0] || rc[3] == rc[1] {
			continue
		}
		p := 1
		if pr, isRef := widget["P"].(pdf.Ref); isRef {
			for i, pg := range pages {
				if pg.Num == pr.Num {
					p = i + 1
				}
			}
		}
		page, rect, widgetDict, ok = p, rc, widget, true
	}
	return page, rect, widgetDict, ok
}

// fieldLock is the /Lock of a signature field that locks o.LockFields; nil when none.
func fieldLock(o *Options) pdf.Dict {
	if len(o.LockFields) == 0 {
		return nil
	}
	names := make(pdf.Array, len(o.LockFields))
	for i, n := range o.LockFields {
		names[i] = pdf.TextString(n)
	}
	return pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"), "Fields": names}
}
