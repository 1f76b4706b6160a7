package pades

import (
	"crypto"
	"fmt"
	"slices"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// FieldMDP: a signature field's /Lock (ISO 32000-1 12.7.4.5, Table 233; ISO 32000-2
// Table 236) names the form fields its signature locks once made: all of them
// (/Action /All), the listed ones (/Include) or all but the listed ones (/Exclude);
// in PDF 2.0 it may also carry /P, a DocMDP permission the signature sets. The
// signature records what it locked in its /Reference as a FieldMDP signature
// reference (12.8.2.4), whose /TransformParams repeat the lock (with /P, as Acrobat
// and pyHanko write it), so a verifier need not trust the field's /Lock, which is
// outside the signed bytes' meaning.
//
// A lock covers the fields the document has when it is signed, a field and its
// descendants by name; a signature field made later is a new signature, not a change
// of a locked field (Acrobat and pyHanko agree).

// lockSpec is one signature field lock.
type lockSpec struct {
	action pdf.Name // All, Include or Exclude
	fields []string
	// p is the PDF 2.0 DocMDP permission (1..3), 0 when the lock sets none.
	p int64
}

// readLock reads a /Lock dictionary or the /TransformParams of a FieldMDP reference.
// A lock that does not say what it locks is an error: the caller decides whether to
// refuse it (the field about to be signed) or to read it as locking everything (a
// lock already in force, the safe reading).
func readLock(rd *pdf.Reader, d pdf.Dict) (lockSpec, error) {
	var l lockSpec
	act, _ := d["Action"].(pdf.Name)
	switch act {
	case "All", "Include", "Exclude":
		l.action = act
	default:
		return l, fmt.Errorf("/Action is %s, not /All, /Include or /Exclude", describe(d["Action"]))
	}
	if act != "All" {
		if d["Fields"] == nil {
			return l, fmt.Errorf("/Action /%s without /Fields", act)
		}
		for _, f := range rd.Array(d["Fields"]) {
			o, _ := rd.Resolve(f)
			s, ok := o.(pdf.String)
			if !ok {
				return l, fmt.Errorf("/Fields holds %s, not a field name", describe(f))
			}
			l.fields = append(l.fields, pdf.DecodeText(s))
		}
	}
	if po, present := d["P"]; present {
		p, ok := rd.Int(po)
		if !ok || p < 1 || p > 3 {
			return l, fmt.Errorf("/P is %s, not 1, 2 or 3", describe(po))
		}
		l.p = p
	}
	return l, nil
}

// lockAll is how a lock that cannot be read is honoured.
var lockAll = lockSpec{action: "All"}

// listed tells whether name is one of names or a descendant of one.
func listed(names []string, name string) bool {
	for _, f := range names {
		if name == f || strings.HasPrefix(name, f+".") {
			return true
		}
	}
	return false
}

// covers tells whether the lock locks the field fully named name.
func (l lockSpec) covers(name string) bool {
	switch l.action {
	case "All":
		return true
	case "Include":
		return listed(l.fields, name)
	case "Exclude":
		return !listed(l.fields, name)
	}
	return false
}

// with adds the fields Kyso itself locks (Options.LockFields) to the lock.
func (l lockSpec) with(names []string) (lockSpec, error) {
	switch l.action {
	case "":
		return lockSpec{action: "Include", fields: slices.Clone(names)}, nil
	case "All":
		return l, nil
	case "Include":
		out := lockSpec{action: "Include", fields: slices.Clone(l.fields), p: l.p}
		for _, n := range names {
			if !slices.Contains(out.fields, n) {
				out.fields = append(out.fields, n)
			}
		}
		return out, nil
	}
	// Exclude: drop from the exclusions what is to be locked; an excluded parent of a
	// field to lock cannot be narrowed to all its children but that one.
	out := lockSpec{action: "Exclude", p: l.p}
	for _, f := range l.fields {
		if listed(names, f) {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(n, f+".") {
				return l, fmt.Errorf("%w: field %q cannot be locked: the signature field's /Lock leaves all of %q unlocked", ErrField, n, f)
			}
		}
		out.fields = append(out.fields, f)
	}
	return out, nil
}

func (l lockSpec) equal(o lockSpec) bool {
	return l.action == o.action && l.p == o.p && slices.Equal(l.fields, o.fields)
}

func (l lockSpec) names() pdf.Array {
	a := make(pdf.Array, len(l.fields))
	for i, n := range l.fields {
		a[i] = pdf.TextString(n)
	}
	return a
}

// lockDict is the lock as a field's /Lock.
func (l lockSpec) lockDict() pdf.Dict {
	d := pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": l.action}
	if l.action != "All" {
		d["Fields"] = l.names()
	}
	if l.p != 0 {
		d["P"] = l.p
	}
	return d
}

// digestMethod names h as a signature reference's /DigestMethod (ISO 32000-2 Table
// 255 lists SHA256, SHA384 and SHA512).
func digestMethod(h crypto.Hash) pdf.Name {
	return pdf.Name(strings.ReplaceAll(h.String(), "-", ""))
}

// fieldMDPReference is the signature reference recording the lock; p is the DocMDP
// permission it sets (0: none).
func fieldMDPReference(l lockSpec, p int64, catRef pdf.Ref, h crypto.Hash) pdf.Dict {
	params := pdf.Dict{"Type": pdf.Name("TransformParams"), "Action": l.action, "V": pdf.Name("1.2")}
	if l.action != "All" {
		params["Fields"] = l.names()
	}
	if p != 0 {
		params["P"] = p
	}
	return pdf.Dict{"Type": pdf.Name("SigRef"), "TransformMethod": pdf.Name("FieldMDP"), "Data": catRef,
		"DigestMethod": digestMethod(h), "TransformParams": params}
}

// signingLock is the lock the new signature makes: the /Lock of the field it signs
// (target, nil for a new field) with o.LockFields added. newLock is the /Lock to write
// on the field, nil to leave the field's own. A /Lock that does not say what it locks
// is refused: signing it would make a signature whose meaning nobody can tell.
func signingLock(rd *pdf.Reader, target *field, o *Options) (lock *lockSpec, newLock pdf.Dict, err error) {
	var l lockSpec
	if target != nil {
		if ld := rd.Dict(target.dict["Lock"]); ld != nil {
			if l, err = readLock(rd, ld); err != nil {
				return nil, nil, fmt.Errorf("%w: the /Lock of %q cannot be honoured: %v", ErrField, target.name, err)
			}
		}
	}
	if len(o.LockFields) > 0 {
		merged, err := l.with(o.LockFields)
		if err != nil {
			return nil, nil, err
		}
		if !merged.equal(l) {
			newLock = merged.lockDict()
		}
		l = merged
	}
	if l.action == "" {
		return nil, nil, nil
	}
	return &l, newLock, nil
}

// locksInForce lists the locks of the document's signed fields, each with the name of
// its field: the field's /Lock and the FieldMDP references of its signature (another
// tool may write only one of them). A lock that cannot be read locks everything.
func locksInForce(rd *pdf.Reader, fields []field) (locks []lockSpec, by []string) {
	for _, f := range fields {
		if f.ft != "Sig" {
			continue
		}
		sig := rd.Dict(f.dict["V"])
		if sig == nil {
			continue
		}
		var dicts []pdf.Dict
		if l := rd.Dict(f.dict["Lock"]); l != nil {
			dicts = append(dicts, l)
		}
		for _, r := range rd.Array(sig["Reference"]) {
			rr := rd.Dict(r)
			if rr != nil && rr["TransformMethod"] == pdf.Name("FieldMDP") {
				dicts = append(dicts, rd.Dict(rr["TransformParams"]))
			}
		}
		for _, d := range dicts {
			l, err := readLock(rd, d)
			if err != nil {
				l = lockAll
			}
			locks = append(locks, l)
			by = append(by, f.name)
		}
	}
	return locks, by
}

// lockedBy names the signed field whose lock forbids changing the field named target.
func lockedBy(rd *pdf.Reader, fields []field, target string) (string, bool) {
	locks, by := locksInForce(rd, fields)
	for i, l := range locks {
		if l.covers(target) {
			return by[i], true
		}
	}
	return "", false
}

// permissionInForce is the strictest DocMDP permission the document's signatures set
// (0: none): the certification's, and the /P of signed fields' locks (PDF 2.0). by
// says whose it is, for the refusal.
func permissionInForce(rd *pdf.Reader, cat pdf.Dict, fields []field) (p int64, by string) {
	if p = docMDP(rd, cat); p != 0 {
		by = "the certification"
	}
	locks, names := locksInForce(rd, fields)
	for i, l := range locks {
		if l.p != 0 && (p == 0 || l.p < p) {
			p, by = l.p, fmt.Sprintf("the lock of the signature in %q", names[i])
		}
	}
	return p, by
}

// lockPermission is the DocMDP permission a signature whose lock sets lockP applies
// when inForce is already in force: permissions can be denied but not added (ISO
// 32000-2 Table 236), so the stricter of the two; 0 when the lock sets none.
func lockPermission(lockP, inForce int64) int64 {
	if lockP == 0 {
		return 0
	}
	if inForce != 0 && inForce < lockP {
		return inForce
	}
	return lockP
}
