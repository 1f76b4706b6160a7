package verify

import (
	"fmt"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// The roles objects take in a document: where an object sits (page, annotation, form
// field, signature, validation data, …), found by walking the document from its
// catalog, decide which changes a later revision may make to it.

// role is where an object sits in the document; an object may have several.
type role uint32

const (
	roleCatalog role = 1 << iota
	rolePagesNode
	rolePage
	roleAnnotsArray // an indirect /Annots array
	roleAnnot       // a non-widget annotation (and what hangs off it)
	roleField       // a form field or widget
	roleFieldsArray // an indirect /Fields or /Kids array
	roleAcroForm
	roleAPSig  // appearance of a signature field's widget
	roleAPForm // appearance of another field's widget, default resources
	roleSig    // a signature dictionary and its parts
	roleDSS    // the document security store and everything in it
	roleMeta   // XMP metadata, the Info dictionary
	roleOther  // page content, resources, names, outlines, …
	rolePerms
	roleAPSigned // appearance of a signature field that is signed
	roleLast     = roleAPSigned
)

// maxRoleVisits bounds the walk of one state.
const maxRoleVisits = 2_000_000

type roleMap struct {
	r     *pdf.Reader
	roles map[int]role
	// fieldNames gives each field object its fully qualified name.
	fieldNames map[int]string
	fieldFT    map[int]pdf.Name
	// apOwner gives each appearance object the field or widget it belongs to.
	apOwner map[int]int
	visits  int
	err     error
}

type roleItem struct {
	o    pdf.Object
	role role
	name string   // field name prefix, for fields
	ft   pdf.Name // inherited field type
	// owner is the field or widget whose appearance subtree this is
	owner int
}

// computeRoles walks the document from its trailer.
func computeRoles(r *pdf.Reader) *roleMap {
	m := &roleMap{r: r, roles: map[int]role{}, fieldNames: map[int]string{}, fieldFT: map[int]pdf.Name{}, apOwner: map[int]int{}}
	var queue []roleItem
	if root, ok := r.Trailer["Root"]; ok {
		queue = append(queue, roleItem{o: root, role: roleCatalog})
	}
	if info, ok := r.Trailer["Info"]; ok {
		queue = append(queue, roleItem{o: info, role: roleMeta})
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		queue = m.visit(it, queue, 0)
		if m.visits&4095 == 4095 {
			if err := r.File().Check(); err != nil {
				m.err = err
				return m
			}
		}
		if m.visits > maxRoleVisits {
			m.err = fmt.Errorf("verify: document too large to analyse (more than %d references)", maxRoleVisits)
			return m
		}
	}
	return m
}

// visit handles one item: a reference is marked and resolved, a direct object has its
// children queued with the roles they take.
func (m *roleMap) visit(it roleItem, queue []roleItem, depth int) []roleItem {
	m.visits++
	if depth > 64 || m.visits > maxRoleVisits {
		return queue
	}
	o := it.o
	if ref, ok := o.(pdf.Ref); ok {
		if m.roles[ref.Num]&it.role == it.role && it.role != roleField {
			return queue
		}
		if it.role == roleField {
			if _, seen := m.fieldNames[ref.Num]; seen {
				return queue
			}
		}
		resolved, err := m.r.Resolve(ref)
		if err != nil || resolved == nil {
			return queue
		}
		rl := it.role
		d := dictOf(resolved)
		// a node's own type settles roles that depend on what it is
		switch {
		case rl == rolePagesNode && d != nil && d["Type"] == pdf.Name("Page"):
			rl = rolePage
		case rl == rolePagesNode && d != nil && d["Type"] != pdf.Name("Pages") && d["Kids"] == nil:
			rl = rolePage
		case rl == roleAnnot && d != nil && (d["Subtype"] == pdf.Name("Widget") || d["FT"] != nil || d["T"] != nil):
			rl = roleField
		case rl == roleAnnot && d == nil:
			if _, isArr := resolved.(pdf.Array); isArr {
				rl = roleAnnotsArray
			}
		case rl == roleField && d == nil:
			if _, isArr := resolved.(pdf.Array); isArr {
				rl = roleFieldsArray
			}
		}
		if d != nil && crossesStructure(rl, d) {
			return queue // reached through a side path (structure tree, links)
		}
		m.roles[ref.Num] |= rl
		if rl == roleField && d != nil {
			name, ft := it.name, it.ft
			if t, ok := d["T"].(pdf.String); ok {
				if name != "" {
					name += "."
				}
				name += pdf.DecodeText(t)
			}
			if f, ok := d["FT"].(pdf.Name); ok {
				ft = f
			}
			if ft == "" { // a widget reached from a page: climb for FT and name
				ft, name = m.climbField(d)
			}
			m.fieldNames[ref.Num] = name
			m.fieldFT[ref.Num] = ft
			it.name, it.ft = name, ft
			it.owner = ref.Num
		}
		if rl&(roleAPForm|roleAPSig|roleAPSigned) != 0 && it.owner != 0 {
			if _, ok := m.apOwner[ref.Num]; !ok {
				m.apOwner[ref.Num] = it.owner
			}
		}
		it.o, it.role = resolved, rl
		if s, ok := resolved.(*pdf.Stream); ok {
			it.o = s.Dict
		}
		return m.children(it, queue, depth)
	}
	return m.children(it, queue, depth)
}

// crossesStructure tells whether a subtree walk (content, appearance, structure tree,
// link destinations) has reached a page, the catalog, or an annotation or field:
// those have roles of their own, found from the top, and are not part of the subtree.
func crossesStructure(rl role, d pdf.Dict) bool {
	t, _ := d["Type"].(pdf.Name)
	switch {
	case t == "Page" || t == "Pages" || t == "Catalog":
		return rl != rolePagesNode && rl != rolePage && rl != roleCatalog
	case t == "Annot" || d["Subtype"] == pdf.Name("Widget") || d["FT"] != nil:
		return rl != roleAnnot && rl != roleField
	}
	return false
}

// climbField finds a widget's field type and full name through its /Parent chain.
func (m *roleMap) climbField(d pdf.Dict) (pdf.Name, string) {
	var ft pdf.Name
	var parts []string
	for i := 0; i < maxFieldDepth && d != nil; i++ {
		if ft == "" {
			ft, _ = d["FT"].(pdf.Name)
		}
		if t, ok := d["T"].(pdf.String); ok {
			parts = append([]string{pdf.DecodeText(t)}, parts...)
		}
		d = m.r.Dict(d["Parent"])
	}
	return ft, strings.Join(parts, ".")
}

func dictOf(o pdf.Object) pdf.Dict {
	switch v := o.(type) {
	case pdf.Dict:
		return v
	case *pdf.Stream:
		return v.Dict
	}
	return nil
}

// children queues the values of a direct dictionary or array with their roles.
func (m *roleMap) children(it roleItem, queue []roleItem, depth int) []roleItem {
	push := func(o pdf.Object, rl role, name string, ft pdf.Name) {
		switch o.(type) {
		case pdf.Ref:
			queue = append(queue, roleItem{o: o, role: rl, name: name, ft: ft, owner: it.owner})
		case pdf.Dict, pdf.Array:
			queue = m.visit(roleItem{o: o, role: rl, name: name, ft: ft, owner: it.owner}, queue, depth+1)
		}
	}
	switch v := it.o.(type) {
	case pdf.Array:
		rl := it.role
		switch rl {
		case roleAnnotsArray:
			rl = roleAnnot
		case roleFieldsArray:
			rl = roleField
		}
		for _, e := range v {
			push(e, rl, it.name, it.ft)
		}
	case pdf.Dict:
		for k, e := range v {
			push(e, childRole(it, k, v), it.name, it.ft)
		}
	}
	return queue
}

// childRole is the role the value under key k of a node with role it.role takes.
// Back-pointers (/Parent, /P, /Data) are not followed: their targets are reached from
// the top.
func childRole(it roleItem, k pdf.Name, d pdf.Dict) role {
	switch it.role {
	case roleCatalog:
		switch k {
		case "Pages":
			return rolePagesNode
		case "AcroForm":
			return roleAcroForm
		case "DSS":
			return roleDSS
		case "Metadata":
			return roleMeta
		case "Perms":
			return rolePerms
		}
		return roleOther
	case rolePagesNode:
		switch k {
		case "Kids":
			return rolePagesNode
		case "Parent":
			return 0
		}
		return roleOther
	case rolePage:
		switch k {
		case "Annots":
			return roleAnnot
		case "Parent":
			return 0
		}
		return roleOther
	case roleAnnotsArray:
		return roleAnnot
	case roleAcroForm:
		switch k {
		case "Fields":
			return roleField
		case "DR", "DA":
			return roleAPForm
		}
		return roleOther
	case roleFieldsArray:
		return roleField
	case roleField:
		switch k {
		case "Parent", "P":
			return 0
		case "Kids":
			return roleField
		case "AP", "MK", "DR":
			if it.ft == "Sig" && d["V"] != nil {
				return roleAPSigned
			}
			if it.ft == "Sig" {
				return roleAPSig
			}
			return roleAPForm
		case "V":
			if it.ft == "Sig" {
				return roleSig
			}
			return roleAPForm
		case "Lock", "SV":
			return roleSig
		}
		return roleOther
	case roleAnnot:
		switch k {
		case "Parent", "P", "IRT":
			return 0
		}
		return roleAnnot
	case roleSig:
		if k == "Data" { // a TransformMethod's back-reference to the catalog
			return 0
		}
		return roleSig
	case rolePerms:
		return roleSig
	case roleAPSig, roleAPSigned, roleAPForm, roleDSS, roleMeta, roleOther:
		if k == "Parent" || k == "P" {
			return 0
		}
		return it.role
	}
	return roleOther
}
