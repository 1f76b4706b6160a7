package verify

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kyso-vn/kyso/signer/pdf"
)

// Modification analysis. Each revision after a signature is compared with the one
// before it, object by object: an object whose cross-reference entry moved was
// redefined, and is judged by where it sits in the document (its role, found by
// walking the document from the catalog in both states) and by which keys changed.
// This is the defence against incremental saving, shadow and certification attacks:
// what a later revision may change is decided here, not by the bytes' coverage alone.

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

// changedObject is one object a revision redefined, added or removed.
type changedObject struct {
	num      int
	old, new pdf.Object // nil when absent
}

// objectChanges lists the objects whose definition differs between two states.
// Objects whose cross-reference entry moved but whose value is identical are not
// changes.
func objectChanges(old, cur *pdf.Reader) ([]changedObject, error) {
	sorted := candidateChanges(old, cur)
	var out []changedObject
	for i, n := range sorted {
		if i&1023 == 1023 {
			if err := cur.File().Check(); err != nil {
				return nil, err
			}
		}
		o1, s1, ok1 := old.ObjectOffset(n)
		o2, s2, ok2 := cur.ObjectOffset(n)
		if ok1 && ok2 && o1 == o2 && s1 == s2 {
			if s1 == 0 {
				continue
			}
			// in an object stream: unchanged if the stream itself did not move
			a1, _, _ := old.ObjectOffset(s1)
			a2, _, _ := cur.ObjectOffset(s2)
			if a1 == a2 {
				continue
			}
		}
		var v1, v2 pdf.Object
		var err error
		if ok1 {
			if v1, err = old.Get(n); err != nil {
				return nil, fmt.Errorf("object %d of the earlier revision: %w", n, err)
			}
		}
		if ok2 {
			if v2, err = cur.Get(n); err != nil {
				return nil, fmt.Errorf("object %d of the later revision: %w", n, err)
			}
		}
		if isContainer(v2) && (v1 == nil || isContainer(v1)) {
			continue // object and xref streams are judged by what they contain
		}
		if (&comparer{a: old, b: cur}).equal(v1, v2, 0) {
			continue
		}
		out = append(out, changedObject{num: n, old: v1, new: v2})
		if len(out) > 1_000_000 {
			return nil, fmt.Errorf("too many changed objects")
		}
	}
	return out, nil
}

// candidateChanges lists, sorted, the object numbers whose entries may differ between
// two states: when cur is old with one more cross-reference section (an incremental
// update, the common case), the numbers that section lists, unless one of them was an
// object stream in old (its members move with it); else every number of both.
func candidateChanges(old, cur *pdf.Reader) []int {
	if nums, ok := cur.ChangedSince(old); ok {
		simple := true
		for _, n := range nums {
			if _, inStream, ok := old.ObjectOffset(n); ok && inStream == 0 {
				if v, err := old.Get(n); err == nil && isContainer(v) {
					simple = false
					break
				}
			}
		}
		if simple {
			sort.Ints(nums)
			return nums
		}
	}
	set := map[int]bool{}
	for _, n := range old.Objects() {
		set[n] = true
	}
	for _, n := range cur.Objects() {
		set[n] = true
	}
	sorted := make([]int, 0, len(set))
	for n := range set {
		sorted = append(sorted, n)
	}
	sort.Ints(sorted)
	return sorted
}

func isContainer(o pdf.Object) bool {
	s, ok := o.(*pdf.Stream)
	if !ok {
		return false
	}
	t, _ := s.Dict["Type"].(pdf.Name)
	return t == "ObjStm" || t == "XRef"
}

// comparer compares values of two states. References to the same number are equal
// (whether that object changed is judged on its own); references to different numbers
// are resolved in their states and compared by value, so that a writer that rewrites
// an unchanged dictionary under a new number does not count as a change.
type comparer struct {
	a, b   *pdf.Reader
	budget int
}

const compareBudget = 100000

func equalObjects(a, b pdf.Object, depth int) bool { return (&comparer{}).equal(a, b, depth) }

func (c *comparer) equal(a, b pdf.Object, depth int) bool {
	if depth > 64 || c.budget > compareBudget {
		return false
	}
	c.budget++
	if ra, ok := a.(pdf.Ref); ok {
		rb, ok := b.(pdf.Ref)
		if !ok {
			return false
		}
		if ra.Num == rb.Num || c.a == nil {
			return ra.Num == rb.Num
		}
		va, err1 := c.a.Resolve(ra)
		vb, err2 := c.b.Resolve(rb)
		return err1 == nil && err2 == nil && c.equal(va, vb, depth+8)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case pdf.Dict:
		y, ok := b.(pdf.Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !c.equal(v, w, depth+1) {
				return false
			}
		}
		return true
	case pdf.Array:
		y, ok := b.(pdf.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !c.equal(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case pdf.String:
		y, ok := b.(pdf.String)
		return ok && bytes.Equal(x, y)
	case *pdf.Stream:
		y, ok := b.(*pdf.Stream)
		if !ok || !c.equal(x.Dict, y.Dict, depth+1) || x.Len() != y.Len() {
			return false
		}
		if x.Offset() == y.Offset() {
			return true
		}
		return streamHash(x) == streamHash(y)
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	}
	return a == b
}

func streamHash(s *pdf.Stream) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, io.LimitReader(s.RawReader(), maxStreamCompare))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

const maxStreamCompare = 1 << 30

// revisionVerdict is the judgement of one later revision.
type revisionVerdict struct {
	rank    int
	details []string
	// formFields are the fields whose values changed (for FieldMDP locks).
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
