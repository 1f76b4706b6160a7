package verify

import (
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// fieldLock is a FieldMDP lock: All fields, or the listed ones (Include), or all but
// the listed ones (Exclude).
type fieldLock struct {
	action string
	fields []string
}

func (l fieldLock) empty() bool { return l.action == "" }

// locked tells whether the lock covers the field fully named name (a lock on a parent
// covers its descendants).
func (l fieldLock) locked(name string) bool {
	in := func() bool {
		for _, f := range l.fields {
			if name == f || strings.HasPrefix(name, f+".") {
				return true
			}
		}
		return false
	}
	switch l.action {
	case "All":
		return true
	case "Include":
		return in()
	case "Exclude":
		return !in()
	}
	return false
}

// readPermissions reads each signature's DocMDP permission (certification) and
// FieldMDP lock from its signature dictionary as signed, and the catalog's /Perms.
func (v *pdfVerifier) readPermissions(checks []*sigCheck) {
	var certRef int
	if cat, _, err := v.final.Catalog(); err == nil {
		if perms := v.final.Dict(cat["Perms"]); perms != nil {
			if r, ok := perms["DocMDP"].(pdf.Ref); ok {
				certRef = r.Num
			}
		}
	}
	for _, sc := range checks {
		rd := v.final
		d := sc.dict
		if d == nil {
			d = sc.found.dict
		}
		isCert := certRef != 0 && sc.found.dictRef.Num == certRef
		for _, ro := range rd.Array(d["Reference"]) {
			ref := rd.Dict(ro)
			if ref == nil {
				continue
			}
			params := rd.Dict(ref["TransformParams"])
			switch ref["TransformMethod"] {
			case pdf.Name("DocMDP"):
				isCert = true
				if p, ok := rd.Int(params["P"]); ok && p >= 1 && p <= 3 {
					sc.p = int(p)
				}
			case pdf.Name("FieldMDP"):
				sc.locks = mergeLocks(sc.locks, lockFrom(rd, params))
				// PDF 2.0: a FieldMDP may also carry a DocMDP-like P
				if p, ok := rd.Int(params["P"]); ok && p >= 1 && p <= 3 {
					sc.p = int(p)
				}
			}
		}
		// A signature field's /Lock takes effect once the field is signed (ISO
		// 32000-1 12.7.4.5); writers also record it as a FieldMDP reference.
		for _, fd := range sc.found.fieldDicts {
			if lock := rd.Dict(fd["Lock"]); lock != nil {
				if l := lockFrom(rd, lock); !l.empty() {
					sc.locks = mergeLocks(sc.locks, l)
				}
				if p, ok := rd.Int(lock["P"]); ok && p >= 1 && p <= 3 && (sc.p == 0 || int(p) < sc.p) {
					sc.p = int(p)
				}
			}
		}
		if isCert && sc.p == 0 {
			sc.p = 2 // DocMDP's default
		}
		if isCert {
			sc.rep.Type = "certification"
		}
	}
}

func lockFrom(rd *pdf.Reader, params pdf.Dict) fieldLock {
	if params == nil {
		return fieldLock{}
	}
	act, _ := params["Action"].(pdf.Name)
	l := fieldLock{action: string(act)}
	for _, f := range rd.Array(params["Fields"]) {
		if s, ok := f.(pdf.String); ok {
			l.fields = append(l.fields, pdf.DecodeText(s))
		}
	}
	return l
}

// mergeLocks keeps the stricter of two locks: All wins; otherwise the second replaces
// an empty first (two different Include/Exclude lists on one signature do not occur
// in practice, and All is the safe reading of a conflict).
func mergeLocks(a, b fieldLock) fieldLock {
	switch {
	case a.empty():
		return b
	case b.empty():
		return a
	case a.action == b.action && a.action == "Include":
		return fieldLock{action: "Include", fields: append(append([]string{}, a.fields...), b.fields...)}
	case a.action == b.action && a.action == "Exclude" && strings.Join(a.fields, "\x00") == strings.Join(b.fields, "\x00"):
		return a
	}
	return fieldLock{action: "All"}
}
