package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// foundSig is one signature value found in the document (a signature dictionary),
// with every field that refers to it.
type foundSig struct {
	fields []string
	// fieldDicts are the fields' (or merged widgets') dictionaries, for /Lock.
	fieldDicts []pdf.Dict
	dictRef    pdf.Ref // zero when the dictionary is inline in its field
	dict       pdf.Dict
}

const (
	maxFieldNodes = 100000
	maxFieldDepth = 32
)

// findSignatures lists the signed signature fields of the document: the AcroForm field
// tree first (the fields viewers show), then widgets on pages whose field is missing
// from the tree. Two fields sharing one signature dictionary yield one signature.
func findSignatures(r *pdf.Reader) ([]*foundSig, []string, error) {
	cat, _, err := r.Catalog()
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	byKey := map[string]*foundSig{}
	var order []*foundSig
	visited := map[int]bool{}
	nodes := 0

	add := func(name string, fieldRef pdf.Ref, field pdf.Dict, v pdf.Object) {
		var key string
		var d pdf.Dict
		var dref pdf.Ref
		switch x := v.(type) {
		case pdf.Ref:
			key = fmt.Sprintf("ref:%d", x.Num)
			dref = x
			d = r.Dict(x)
		case pdf.Dict:
			key = fmt.Sprintf("inline:%d", fieldRef.Num)
			d = x
		}
		if d == nil {
			// a field that claims a signature whose dictionary cannot be read is
			// a broken signature, not an unsigned field
			d = pdf.Dict{}
		}
		if s, ok := byKey[key]; ok {
			for _, f := range s.fields {
				if f == name {
					return
				}
			}
			s.fields = append(s.fields, name)
			s.fieldDicts = append(s.fieldDicts, field)
			return
		}
		s := &foundSig{fields: []string{name}, fieldDicts: []pdf.Dict{field}, dictRef: dref, dict: d}
		byKey[key] = s
		order = append(order, s)
	}

	var walk func(o pdf.Object, parentName string, inheritedFT pdf.Name, depth int) error
	walk = func(o pdf.Object, parentName string, inheritedFT pdf.Name, depth int) error {
		if depth > maxFieldDepth {
			return fmt.Errorf("verify: form field tree deeper than %d", maxFieldDepth)
		}
		ref, isRef := o.(pdf.Ref)
		if isRef {
			if visited[ref.Num] {
				return nil
			}
			visited[ref.Num] = true
		}
		nodes++
		if nodes > maxFieldNodes {
			return fmt.Errorf("verify: more than %d form fields", maxFieldNodes)
		}
		d := r.Dict(o)
		if d == nil {
			return nil
		}
		name := parentName
		if t, ok := d["T"].(pdf.String); ok {
			if name != "" {
				name += "."
			}
			name += pdf.DecodeText(t)
		}
		ft := inheritedFT
		if f, ok := d["FT"].(pdf.Name); ok {
			ft = f
		}
		if ft == "Sig" {
			if v, ok := d["V"]; ok && v != nil {
				add(name, ref, d, v)
			}
		}
		for _, k := range r.Array(d["Kids"]) {
			if err := walk(k, name, ft, depth+1); err != nil {
				return err
			}
		}
		return nil
	}

	if af := r.Dict(cat["AcroForm"]); af != nil {
		for _, f := range r.Array(af["Fields"]) {
			if err := walk(f, "", "", 0); err != nil {
				return nil, nil, err
			}
		}
	}

	// Widgets on pages whose field the AcroForm tree does not reach: a viewer may still
	// show them as signatures, so they are verified too.
	if pages, err := r.Pages(); err == nil {
		for _, p := range pages {
			pd := r.Dict(p)
			for _, a := range r.Array(pd["Annots"]) {
				aref, ok := a.(pdf.Ref)
				if !ok || visited[aref.Num] {
					continue
				}
				ad := r.Dict(a)
				if ad == nil || ad["Subtype"] != pdf.Name("Widget") {
					continue
				}
				// climb to the terminal field for the name and FT
				field, name, ft := ad, "", pdf.Name("")
				for i, f := 0, ad; i < maxFieldDepth && f != nil; i++ {
					if ft == "" {
						ft, _ = f["FT"].(pdf.Name)
					}
					if t, ok := f["T"].(pdf.String); ok {
						if name == "" {
							name = pdf.DecodeText(t)
						} else {
							name = pdf.DecodeText(t) + "." + name
						}
					}
					f = r.Dict(f["Parent"])
				}
				if ft != "Sig" {
					continue
				}
				visited[aref.Num] = true
				if v, ok := field["V"]; ok && v != nil {
					add(name, aref, field, v)
					warnings = append(warnings, fmt.Sprintf("signature field %q is not in the form's field list", name))
				}
			}
		}
	}
	return order, warnings, nil
}

// byteRange reads /ByteRange: exactly four non-negative integers, written directly.
func byteRange(r *pdf.Reader, d pdf.Dict) ([]int64, error) {
	o, ok := d["ByteRange"]
	if !ok || o == nil {
		return nil, fmt.Errorf("verify: signature has no /ByteRange")
	}
	a, ok := o.(pdf.Array)
	if !ok {
		a = r.Array(o)
		if a == nil {
			return nil, fmt.Errorf("verify: /ByteRange is not an array")
		}
	}
	if len(a) != 4 {
		return nil, fmt.Errorf("verify: /ByteRange has %d numbers, not 4 (two ranges)", len(a))
	}
	out := make([]int64, 4)
	for i, e := range a {
		v, ok := e.(int64)
		if !ok || v < 0 {
			return nil, fmt.Errorf("verify: /ByteRange element %d is not a non-negative integer", i)
		}
		out[i] = v
	}
	return out, nil
}

func fieldNames(s *foundSig) string { return strings.Join(s.fields, ", ") }

// sortByRevision orders signatures by where their signed revision ends; signatures
// whose ByteRange is unreadable go last.
func sortByRevision(sigs []*sigCheck) {
	sort.SliceStable(sigs, func(i, j int) bool {
		ei, ej := sigs[i].signedEnd, sigs[j].signedEnd
		if ei <= 0 {
			return false
		}
		if ej <= 0 {
			return true
		}
		return ei < ej
	})
}
