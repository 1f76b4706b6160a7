package verify

import (
	"fmt"
	"sort"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// Modification analysis. Each revision after a signature is compared with the one
// before it, object by object: an object whose cross-reference entry moved was
// redefined, and is judged by where it sits in the document (its role, found by
// walking the document from the catalog in both states) and by which keys changed.
// This is the defence against incremental saving, shadow and certification attacks:
// what a later revision may change is decided here, not by the bytes' coverage alone.
// The roles are found in roles.go, the objects that changed in compare.go.

// kindRank orders modification kinds; dss is a signature-kind change that even P=1
// allows (validation data and document timestamps).
const (
	rankNone = iota
	rankDSS
	rankMetadata
	rankSignature
	rankForm
	rankAnnotation
	rankOther
)

func rankKind(r int) string {
	switch r {
	case rankNone:
		return KindNone
	case rankDSS, rankSignature:
		return KindSignature
	case rankMetadata:
		return KindMetadata
	case rankForm:
		return KindFormFilling
	case rankAnnotation:
		return KindAnnotation
	}
	return KindOther
}

// revisionVerdict is the judgement of one later revision.
type revisionVerdict struct {
	rank    int
	details []string
	// formFields are the fields whose values changed, signature fields signed
	// included (for FieldMDP locks).
	formFields []string
	// newApproval tells whether the revision adds an approval signature (not just a
	// document timestamp or validation data): P=1 forbids it.
	newApproval bool
}

func (v *revisionVerdict) note(rank int, format string, a ...any) {
	d := fmt.Sprintf(format, a...)
	if rank > v.rank {
		// the change that decides the verdict is named first, however many came before
		v.rank = rank
		v.details = append([]string{d}, v.details...)
		if len(v.details) > 21 {
			v.details = append(v.details[:20], "…")
		}
		return
	}
	if len(v.details) < 20 {
		v.details = append(v.details, d)
	} else if len(v.details) == 20 {
		v.details = append(v.details, "…")
	}
}

// classifyRevision judges what cur changed relative to old.
func classifyRevision(old, cur *pdf.Reader) revisionVerdict {
	var v revisionVerdict
	changes, err := objectChanges(old, cur)
	if err != nil {
		v.note(rankOther, "the revision cannot be compared: %v", err)
		return v
	}
	if len(changes) == 0 {
		return v
	}
	ro, rc := computeRoles(old), computeRoles(cur)
	for _, m := range []*roleMap{ro, rc} {
		if m.err != nil {
			v.note(rankOther, "%v", m.err)
			return v
		}
	}
	for _, c := range changes {
		roles := ro.roles[c.num] | rc.roles[c.num]
		if roles == 0 {
			continue // reachable in neither state: nothing shows it
		}
		for bit := role(1); bit != 0 && bit <= roleLast; bit <<= 1 {
			if roles&bit == 0 {
				continue
			}
			classifyObject(&v, bit, c, old, cur, ro, rc)
		}
	}
	return v
}

// classifyObject judges one changed object in one of its roles.
func classifyObject(v *revisionVerdict, rl role, c changedObject, old, cur *pdf.Reader, ro, rc *roleMap) {
	od, nd := dictOf(c.old), dictOf(c.new)
	switch rl {
	case roleCatalog:
		for _, k := range changedKeys(od, nd, old, cur) {
			switch k {
			case "AcroForm":
				// an inline form dictionary, or a reference to another one: compare
				// the dictionaries (a changed indirect one is judged on its own too)
				judgeAcroForm(v, old.Dict(od["AcroForm"]), cur.Dict(nd["AcroForm"]), old, cur)
			case "DSS":
				v.note(rankDSS, "catalog: document security store (validation data)")
			case "Extensions":
				v.note(rankSignature, "catalog: extensions")
			case "Metadata", "Version":
				v.note(rankMetadata, "catalog: /%s", k)
			default:
				v.note(rankOther, "catalog: /%s changed", k)
			}
		}
	case roleAcroForm:
		judgeAcroForm(v, od, nd, old, cur)
	case rolePagesNode:
		v.note(rankOther, "page tree node %d changed (pages added, removed or moved)", c.num)
	case rolePage:
		for _, k := range changedKeys(od, nd, old, cur) {
			if k == "Annots" {
				judgeList(v, old, cur, od["Annots"], nd["Annots"], rankAnnotation, rankAnnotation, "annotation", c.num)
				continue
			}
			v.note(rankOther, "page object %d: /%s changed", c.num, k)
		}
		if od == nil || nd == nil {
			v.note(rankOther, "page object %d added or removed", c.num)
		}
	case roleAnnotsArray:
		if c.old == nil {
			return // a new array: judged where its owner's key changed
		}
		judgeList(v, old, cur, c.old, c.new, rankAnnotation, rankAnnotation, "annotation", c.num)
	case roleFieldsArray:
		if c.old == nil {
			return
		}
		judgeList(v, old, cur, c.old, c.new, rankOther, rankAnnotation, "form field", c.num)
	case roleAnnot:
		v.note(rankAnnotation, "annotation object %d added, changed or removed", c.num)
	case roleField:
		judgeField(v, c, ro, rc)
	case roleAPSigned:
		if c.old != nil && ro.roles[c.num]&roleAPSigned != 0 {
			v.note(rankOther, "appearance object %d of a signed signature changed", c.num)
		} else {
			v.note(rankSignature, "signature appearance object %d", c.num)
		}
	case roleAPSig:
		v.note(rankSignature, "signature field appearance object %d", c.num)
	case roleAPForm:
		// An appearance rewritten in place shows something else: allowed only when
		// its field's value changed with it (form filling), never on its own.
		if c.old != nil && ro.roles[c.num]&roleAPForm != 0 {
			owner := rc.apOwner[c.num]
			if owner == 0 {
				owner = ro.apOwner[c.num]
			}
			if owner == 0 || !fieldValueChanged(old, cur, owner) {
				v.note(rankOther, "appearance object %d changed without a change of its field's value", c.num)
				return
			}
		}
		v.note(rankForm, "form field appearance object %d", c.num)
	case roleSig:
		if c.old != nil && ro.roles[c.num]&roleSig != 0 {
			v.note(rankOther, "signature dictionary object %d changed after it was signed", c.num)
			return
		}
		if nd != nil && (nd["Type"] == pdf.Name("DocTimeStamp") || nd["SubFilter"] == pdf.Name("ETSI.RFC3161")) {
			v.note(rankDSS, "document timestamp")
			return
		}
		if nd != nil && nd["ByteRange"] != nil {
			v.newApproval = true
		}
		v.note(rankSignature, "signature object %d", c.num)
	case rolePerms:
		v.note(rankOther, "permissions (/Perms) changed")
	case roleDSS:
		v.note(rankDSS, "validation data object %d", c.num)
	case roleMeta:
		v.note(rankMetadata, "metadata object %d", c.num)
	case roleOther:
		if c.old == nil {
			// a new object shows only through a reference from a changed one, which
			// is judged where it is
			return
		}
		what := "object"
		if s, ok := c.new.(*pdf.Stream); ok {
			what = "stream"
			if t, ok := s.Dict["Subtype"].(pdf.Name); ok {
				what = string(t) + " stream"
			}
		}
		v.note(rankOther, "%s %d (page content, resources or document structure) changed", what, c.num)
	}
}

// changedKeys lists the keys whose values differ between two dictionaries of the
// states old and cur.
func changedKeys(a, b pdf.Dict, old, cur *pdf.Reader) []pdf.Name {
	var out []pdf.Name
	for k, x := range a {
		if y, ok := b[k]; !ok || !(&comparer{a: old, b: cur}).equal(x, y, 0) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func judgeAcroForm(v *revisionVerdict, od, nd pdf.Dict, old, cur *pdf.Reader) {
	for _, k := range changedKeys(od, nd, old, cur) {
		switch k {
		case "Fields":
			judgeList(v, old, cur, od["Fields"], nd["Fields"], rankOther, rankAnnotation, "form field", 0)
		case "SigFlags":
			v.note(rankSignature, "form: /SigFlags")
		case "NeedAppearances", "DA", "DR":
			v.note(rankForm, "form: /%s", k)
		default:
			v.note(rankOther, "form dictionary: /%s changed", k)
		}
	}
}

// judgeList compares two reference lists (Annots, Fields, Kids): a new object added is
// judged where it is; an object that already existed and is newly listed (it did not
// change, so nothing else sees it) is a change of addRank; a removal one of removeRank.
func judgeList(v *revisionVerdict, old, cur *pdf.Reader, a, b pdf.Object, removeRank, addRank int, what string, owner int) {
	la, lb := old.Array(a), cur.Array(b)
	have, had := map[string]bool{}, map[string]bool{}
	for _, e := range lb {
		have[refKey(e)] = true
	}
	for _, e := range la {
		had[refKey(e)] = true
		if !have[refKey(e)] {
			v.note(removeRank, "%s %s removed", what, refKey(e))
		}
	}
	for _, e := range lb {
		if r, isRef := e.(pdf.Ref); isRef {
			if had[refKey(e)] {
				continue
			}
			o1, s1, ok1 := old.ObjectOffset(r.Num)
			o2, s2, ok2 := cur.ObjectOffset(r.Num)
			if ok1 && ok2 && o1 == o2 && s1 == s2 {
				v.note(addRank, "existing object %d newly listed as %s", r.Num, what)
			}
			continue
		}
		// a direct annotation or field cannot be told from a changed one
		found := false
		for _, x := range la {
			if equalObjects(x, e, 0) {
				found = true
				break
			}
		}
		if !found {
			v.note(removeRank, "direct %s added to object %d", what, owner)
		}
	}
}

func refKey(o pdf.Object) string {
	if r, ok := o.(pdf.Ref); ok {
		return fmt.Sprintf("%d", r.Num)
	}
	b, _ := pdf.MarshalBytes(o)
	if len(b) > 64 {
		b = b[:64]
	}
	return "direct:" + string(b)
}

// judgeField judges a changed field or widget.
func judgeField(v *revisionVerdict, c changedObject, ro, rc *roleMap) {
	old, cur := ro.r, rc.r
	ft := rc.fieldFT[c.num]
	name := rc.fieldNames[c.num]
	if c.new == nil {
		ft, name = ro.fieldFT[c.num], ro.fieldNames[c.num]
	}
	od, nd := dictOf(c.old), dictOf(c.new)
	switch {
	case nd == nil:
		v.note(rankOther, "form field %q (object %d) removed", name, c.num)
		return
	case od == nil:
		if ft == "Sig" {
			v.note(rankSignature, "new signature field %q", name)
		} else {
			v.note(rankAnnotation, "new form field or widget %q (object %d)", name, c.num)
		}
		return
	}
	if ft == "Sig" {
		wasSigned := od["V"] != nil
		for _, k := range changedKeys(od, nd, old, cur) {
			switch k {
			case "V", "AP", "AS", "F", "P", "MK", "DA", "Lock", "SV", "Kids":
				if wasSigned {
					v.note(rankOther, "signed signature field %q: /%s changed", name, k)
				} else {
					v.note(rankSignature, "signature field %q signed", name)
				}
				if k == "V" && !wasSigned {
					// signing a field is setting its value: a FieldMDP lock forbids it
					v.formFields = append(v.formFields, name)
				}
			default:
				v.note(rankOther, "signature field %q: /%s changed", name, k)
			}
		}
		return
	}
	keys := changedKeys(od, nd, old, cur)
	valueChanged := false
	for _, k := range keys {
		valueChanged = valueChanged || k == "V"
	}
	if !valueChanged && nd["V"] == nil && nd["Parent"] != nil {
		// a widget of a field whose value lives on the parent (radio buttons)
		cmp := &comparer{a: old, b: cur}
		valueChanged = !cmp.equal(old.Dict(od["Parent"])["V"], cur.Dict(nd["Parent"])["V"], 0)
	}
	for _, k := range keys {
		switch k {
		case "V", "M", "DA":
			v.note(rankForm, "field %q: /%s filled", name, k)
			v.formFields = append(v.formFields, name)
		case "AS", "AP":
			// What a field shows may change only with its value: a new appearance
			// over an unchanged value is a shadow attack's overlay.
			if !valueChanged {
				v.note(rankOther, "field %q: appearance changed without a change of value", name)
				continue
			}
			v.note(rankForm, "field %q: /%s updated with its value", name, k)
			v.formFields = append(v.formFields, name)
		default:
			v.note(rankOther, "field %q: /%s changed", name, k)
		}
	}
}

// fieldValueChanged tells whether the value of field (or of the widget's parent field)
// differs between the two states.
func fieldValueChanged(old, cur *pdf.Reader, field int) bool {
	od, nd := old.Dict(pdf.Ref{Num: field}), cur.Dict(pdf.Ref{Num: field})
	cmp := &comparer{a: old, b: cur}
	if !cmp.equal(od["V"], nd["V"], 0) {
		return true
	}
	if nd["V"] == nil && nd["Parent"] != nil {
		return !cmp.equal(old.Dict(od["Parent"])["V"], cur.Dict(nd["Parent"])["V"], 0)
	}
	return false
}
