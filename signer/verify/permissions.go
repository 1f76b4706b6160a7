package verify

import (
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// fieldLock is a FieldMDP lock (ISO 32000-1 12.7.4.5, 12.8.2.4): All fields, or the
// listed ones (Include), or all but the listed ones (Exclude). A signature's locks are
// kept apart, not merged: a field is locked when any of them covers it.
type fieldLock struct {
	action string
	fields []string
}

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
	case "Include":
		return in()
	case "Exclude":
		return !in()
	}
	return true // All, and a lock that does not say what it locks
}

// readPermissions reads each signature's DocMDP permission (certification) and
// FieldMDP locks from its signature dictionary as signed, the catalog's /Perms and
// its field's /Lock (with the PDF 2.0 /P of either).
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
		certP, lockP := 0, 0
		perm := func(o pdf.Object, into *int) {
			if p, ok := rd.Int(o); ok && p >= 1 && p <= 3 && (*into == 0 || int(p) < *into) {
				*into = int(p)
			}
		}
		for _, ro := range rd.Array(d["Reference"]) {
			ref := rd.Dict(ro)
			if ref == nil {
				continue
			}
			params := rd.Dict(ref["TransformParams"])
			switch ref["TransformMethod"] {
			case pdf.Name("DocMDP"):
				isCert = true
				perm(params["P"], &certP)
			case pdf.Name("FieldMDP"):
				sc.locks = append(sc.locks, lockFrom(rd, params))
				// the PDF 2.0 /P of the field's lock, as Acrobat and pyHanko record it
				perm(params["P"], &lockP)
			}
		}
		// A signature field's /Lock takes effect once the field is signed (ISO
		// 32000-1 12.7.4.5); writers also record it as a FieldMDP reference, but
		// not all of them do.
		for _, fd := range sc.found.fieldDicts {
			if lock := rd.Dict(fd["Lock"]); lock != nil {
				sc.locks = append(sc.locks, lockFrom(rd, lock))
				perm(lock["P"], &lockP)
			}
		}
		if isCert {
			sc.rep.Type = "certification"
			if certP == 0 {
				certP = 2 // DocMDP's default
			}
		}
		sc.certP, sc.lockP = certP, lockP
	}
}

// lockFrom reads a /Lock or a FieldMDP /TransformParams; an /Action it does not know
// reads as All, the safe reading of a lock nobody can tell the meaning of.
func lockFrom(rd *pdf.Reader, params pdf.Dict) fieldLock {
	act, _ := params["Action"].(pdf.Name)
	l := fieldLock{action: string(act)}
	for _, f := range rd.Array(params["Fields"]) {
		if r, err := rd.Resolve(f); err == nil {
			f = r
		}
		if s, ok := f.(pdf.String); ok {
			l.fields = append(l.fields, pdf.DecodeText(s))
		}
	}
	return l
}
