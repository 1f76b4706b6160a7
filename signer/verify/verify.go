package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// Errors for input that is not a signed document (the CLI's exit status 2). The report
// is nil with them.
var (
	// ErrNotSigned: the document is readable but holds no signature.
	ErrNotSigned = errors.New("verify: the document holds no signature")
	// ErrUnreadable: the input cannot be read as a PDF (or as CMS for detached input).
	ErrUnreadable = errors.New("verify: the input cannot be read as a signed document")
)

// Options configure a verification.
type Options struct {
	// Anchors are the trust anchors. Chains are built to these only, never to a
	// certificate the document carries.
	Anchors []*x509.Certificate
	// At is the validation time; zero means Now().
	At time.Time
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Offline forbids the network: revocation comes from the document only.
	Offline bool
	// Revocation answers online revocation questions (OCSP, then CRL) when not
	// Offline. Nil makes one pki.Checker per verification with default clients;
	// share a configured one between verifications to share its cache.
	Revocation pki.RevocationChecker
	// RevocationTimeout bounds each online revocation question (default 10 s).
	RevocationTimeout time.Duration
	// Limits bound the work one file may cause: revisions, objects, cross-reference
	// entries, decoded bytes and time (zero fields: pdf.DefaultLimits). Exceeding one
	// is a fault.TooLarge error naming the limit and its configuration key.
	Limits pdf.Limits
	// Intermediates are certificates for building chains only, never anchors (the
	// built-in list's licensed CAs): a document that does not carry its signer's
	// intermediate still finds its chain.
	Intermediates []*x509.Certificate
	// Issuers fetches a certificate's missing issuers from its AIA caIssuers URLs when
	// no chain is found and not Offline. Nil makes one pki.AIAFetcher per verification
	// with the revocation timeout; share a configured one to share its cache.
	Issuers pki.IssuerFetcher
	// Crypto is the cryptographic constraints with their dates (nil:
	// DefaultCryptoPolicy, EU DSS's).
	Crypto CryptoPolicy
}

func (o *Options) validationTime() time.Time {
	if !o.At.IsZero() {
		return o.At
	}
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// withRevocation gives an online verification one revocation checker for all its
// signatures, so that their common issuers are asked once.
func (o Options) withRevocation(at time.Time) Options {
	if o.Revocation == nil && !o.Offline {
		o.Revocation = &pki.Checker{OCSP: &pki.OCSPClient{}, CRL: &pki.CRLFetcher{}, Now: func() time.Time { return at }}
	}
	if o.Issuers == nil && !o.Offline {
		o.Issuers = &pki.AIAFetcher{Timeout: o.RevocationTimeout}
	}
	if o.Crypto == nil {
		o.Crypto = DefaultCryptoPolicy()
	}
	return o
}

// VerifyFile verifies the PDF at path.
func VerifyFile(ctx context.Context, path string, opts Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	return VerifyPDF(ctx, f, st.Size(), path, opts)
}

// VerifyPDF verifies every signature and document timestamp of the PDF in the first
// size bytes of r. The error is ErrUnreadable or ErrNotSigned (wrapped) when the input
// is not a signed PDF; otherwise the report says everything, including a failure
// inside the verifier itself (a FORMAT_FAILURE with the error). r is read with
// concurrent ReadAt calls, as io.ReaderAt allows; VerifyPDF itself is safe for
// concurrent use.
func VerifyPDF(ctx context.Context, r io.ReaderAt, size int64, name string, opts Options) (rep *Report, err error) {
	rep = &Report{Version: ReportVersion, File: name, Size: size, Format: "pdf",
		ValidationTime: opts.validationTime().UTC(), Signatures: []SignatureReport{}, Errors: []string{}, Warnings: []string{}}
	defer func() {
		if p := recover(); p != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("verify: internal error: %v", p))
			rep.Indication, rep.SubIndication = TotalFailed, FormatFailure
			for i := range rep.Signatures {
				rep.Signatures[i].Indication = TotalFailed
				rep.Signatures[i].SubIndication = FormatFailure
			}
			err = nil
		}
	}()
	opts = opts.withRevocation(rep.ValidationTime)
	ctx, cancel := withTimeout(ctx, opts.Limits)
	defer cancel()
	v := &pdfVerifier{f: r, size: size, opts: opts, rep: rep, at: rep.ValidationTime,
		file: pdf.NewFile(ctx, r, size, opts.Limits)}
	if err := v.run(ctx); err != nil {
		if ferr := v.file.Err(); ferr != nil {
			return nil, ferr // a limit, or the end of the context, whatever it broke
		}
		if cerr := pdf.ContextError(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	if err := v.file.Err(); err != nil {
		return nil, err
	}
	if err := pdf.ContextError(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}

// withTimeout bounds ctx by the limits' timeout; its expiry is a TooLarge fault that
// names verify.timeout.
func withTimeout(ctx context.Context, lim pdf.Limits) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	d := lim.WithDefaults().Timeout
	return context.WithTimeoutCause(ctx, d, pdf.LimitError("timeout", "verify.timeout",
		"verifying it takes longer than the verifier may spend", d))
}

type revState struct {
	end int64 // offset just past the revision's %%EOF line
	rd  *pdf.Reader
}

type pdfVerifier struct {
	f    io.ReaderAt
	size int64
	// file is the budget and the caches every reader of the file shares.
	file *pdf.File
	opts Options
	rep  *Report
	at   time.Time

	marks []eofMark
	revs  []revState
	final *pdf.Reader
	// tail is set when bytes after the last readable revision are not a revision.
	tail string
	// verdicts caches the judgement of revision i against revision i-1.
	verdicts map[int]revisionVerdict
	dss      *dssData
	checks   []*sigCheck
}

func (v *pdfVerifier) run(ctx context.Context) error {
	// The pass over the whole file (its SHA-256 and the %%EOF markers) runs beside
	// the opening of the document and the one pass that hashes the signed ranges, so
	// that a large file costs about one pass of wall time.
	type scanResult struct {
		marks []eofMark
		sha   string
		err   error
	}
	scanDone := make(chan scanResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				scanDone <- scanResult{err: fmt.Errorf("verify: internal error while reading: %v", p)}
			}
		}()
		marks, sha, err := filePass(ctx, v.f, v.size)
		scanDone <- scanResult{marks, sha, err}
	}()
	var early []*sigCheck
	var earlyFinal *pdf.Reader
	var earlyWarnings []string
	if final, err := v.file.Open(v.size); err == nil {
		if found, warns, err := findSignatures(final); err == nil && len(found) > 0 {
			earlyFinal, earlyWarnings = final, warns
			early = v.prepare(ctx, final, found, nil)
		}
	}
	sr := <-scanDone
	if sr.err != nil {
		return fmt.Errorf("%w: %v", ErrUnreadable, sr.err)
	}
	v.marks, v.rep.SHA256 = sr.marks, sr.sha
	if err := v.readRevisions(ctx); err != nil {
		return err
	}
	if v.final == nil {
		if _, err := v.file.Open(v.size); err != nil {
			return fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		return fmt.Errorf("%w: no readable revision", ErrUnreadable)
	}
	v.rep.Revisions = len(v.revs)

	checks := early
	if earlyFinal != nil {
		// the whole file reads as a document: it is the one whose signatures count
		v.final = earlyFinal
		v.rep.Warnings = append(v.rep.Warnings, earlyWarnings...)
	} else {
		found, warns, err := findSignatures(v.final)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		v.rep.Warnings = append(v.rep.Warnings, warns...)
		var unreadableSig error
		if len(found) == 0 && v.tail != "" {
			// The readable revisions hold no signature, but the bytes after them
			// may hold one that a lenient viewer shows: a claimed signature Kyso
			// cannot read is a failed one, never an unsigned document.
			if ok, _ := contains(v.f, v.revs[len(v.revs)-1].end, v.size, []byte("/ByteRange")); ok {
				found = append(found, &foundSig{fields: []string{"?"}, dict: pdf.Dict{}})
				unreadableSig = fmt.Errorf("verify: signature data lies in bytes that are not a readable revision (%s)", v.tail)
			}
		}
		if len(found) == 0 {
			if v.final.Encrypted() {
				return fmt.Errorf("%w (the file is encrypted)", ErrNotSigned)
			}
			return ErrNotSigned
		}
		checks = v.prepare(ctx, v.final, found, unreadableSig)
	}
	if err := v.file.Err(); err != nil {
		return err
	}
	for _, sc := range checks {
		if sc.integrityErr == nil && !atRevisionEnd(v.marks, sc.signedEnd) {
			sc.integrityErr = fmt.Errorf("verify: the signed range ends at byte %d, which is not the end of a revision (%%%%EOF)", sc.signedEnd)
		}
	}
	v.dss = readDSS(v.final)

	sortByRevision(checks)
	v.checks = checks
	v.readPermissions(checks)
	for _, docTS := range []bool{true, false} {
		for i, sc := range checks {
			d := sc.dict
			if d == nil {
				d = sc.found.dict
			}
			if isDocTimestamp(d) != docTS {
				continue
			}
			if err := v.file.Err(); err != nil {
				return err
			}
			if err := pdf.ContextError(ctx); err != nil {
				return err
			}
			sc.rep.Index = i + 1
			v.verifySignature(ctx, sc, checks)
		}
	}
	for _, sc := range checks {
		v.rep.Signatures = append(v.rep.Signatures, *sc.rep)
	}
	for _, sc := range checks {
		if sc.certP > 0 && (v.rep.DocMDP == 0 || sc.certP < v.rep.DocMDP) {
			v.rep.DocMDP = sc.certP
		}
	}
	v.rep.summarize()
	return nil
}

// prepare makes the checks of the signatures found in final: the ByteRange and
// /Contents checks, the CMS or timestamp token parsed, and the digests of the signed
// ranges computed in one pass. A non-nil failed marks every signature failed.
func (v *pdfVerifier) prepare(ctx context.Context, final *pdf.Reader, found []*foundSig, failed error) []*sigCheck {
	checks := make([]*sigCheck, 0, len(found))
	var jobs []rangeJob
	for _, fs := range found {
		sc := &sigCheck{found: fs, rep: &SignatureReport{Field: fieldNames(fs), Modifications: []Modification{},
			Chain: []CertInfo{}, Errors: []string{}, Warnings: []string{}}}
		checks = append(checks, sc)
		if len(fs.fields) > 1 {
			sc.rep.Warnings = append(sc.rep.Warnings, fmt.Sprintf("one signature is referred to by %d fields", len(fs.fields)))
		}
		if failed != nil {
			sc.integrityErr = failed
			continue
		}
		if err := checkByteRange(v.f, v.size, final, v.openRevision, sc); err != nil {
			sc.integrityErr = err
			continue
		}
		if parseSignatureValue(sc) {
			sc.hasher = sc.hash.New()
			jobs = append(jobs, rangeJob{br: sc.br, h: sc.hasher})
		}
	}
	if err := hashRanges(ctx, v.f, jobs); err != nil {
		for _, sc := range checks {
			sc.hasher = nil // verified the slow way, which reports the error
		}
	}
	for _, sc := range checks {
		if sc.hasher != nil {
			sc.digest = sc.hasher.Sum(nil)
		}
	}
	return checks
}

// readRevisions opens the document as of each %%EOF marker. The last readable state is
// the document; bytes after it that are more than white space are an unreadable
// revision, which later counts as a change. The readers share the file's budget and
// what they read: a revision reads only its own cross-reference section.
func (v *pdfVerifier) readRevisions(ctx context.Context) error {
	var lastEnd int64
	maxRevs := v.file.Limits().MaxRevisions
	for _, m := range v.marks {
		if err := pdf.ContextError(ctx); err != nil {
			return err
		}
		end := m.eol
		rd, err := v.file.Open(end)
		if ferr := v.file.Err(); ferr != nil {
			return ferr
		}
		if err != nil {
			continue
		}
		if len(v.revs) > 0 && rd.StartXref == v.revs[len(v.revs)-1].rd.StartXref {
			// a %%EOF inside data (an embedded file, a string) that opens as the same
			// state as before: not a revision of its own
			continue
		}
		if len(v.revs) >= maxRevs {
			return v.file.RevisionsError()
		}
		v.revs = append(v.revs, revState{end: end, rd: rd})
		lastEnd = end
	}
	if len(v.revs) == 0 {
		return nil
	}
	v.final = v.revs[len(v.revs)-1].rd
	if lastEnd < v.size {
		tail := make([]byte, min(v.size-lastEnd, 4096))
		n, _ := v.f.ReadAt(tail, lastEnd)
		if len(bytes.TrimLeft(tail[:n], " \t\r\n\f\x00")) > 0 || v.size-lastEnd > 4096 {
			v.tail = fmt.Sprintf("%d bytes after the last readable revision (offset %d) are not a valid revision", v.size-lastEnd, lastEnd)
			if err := v.readRepaired(ctx, lastEnd); err != nil {
				return err
			}
		}
	}
	return nil
}

// openRevision reads the document as it ended at end: the revision read already (a
// repaired one included), else a strict read of that prefix.
func (v *pdfVerifier) openRevision(end int64) (*pdf.Reader, error) {
	for _, rs := range v.revs {
		if rs.end == end {
			return rs.rd, nil
		}
	}
	return v.file.Open(end)
}

// readRepaired reads the revisions after lastEnd as a lenient viewer would (a repair
// of each prefix ending at an %%EOF, from one scan of the file) when they cannot be
// read strictly, and when the file ends with such a revision judges them like any
// other: what a viewer shows is what the signatures must still cover. The repair is
// reported as a warning.
func (v *pdfVerifier) readRepaired(ctx context.Context, lastEnd int64) error {
	if len(v.marks) == 0 {
		return nil
	}
	end := v.marks[len(v.marks)-1].eol
	if end <= lastEnd {
		return nil
	}
	if tail := make([]byte, min(v.size-end, 4096)); len(tail) > 0 {
		n, _ := v.f.ReadAt(tail, end)
		if len(bytes.TrimLeft(tail[:n], " \t\r\n\f\x00")) > 0 || v.size-end > 4096 {
			return nil // bytes after the last %%EOF: nothing a repair can vouch for
		}
	}
	maxRevs := v.file.Limits().MaxRevisions
	var repaired []revState
	for _, m := range v.marks {
		if m.eol <= lastEnd {
			continue
		}
		if err := pdf.ContextError(ctx); err != nil {
			return err
		}
		if len(v.revs)+len(repaired) >= maxRevs {
			return v.file.RevisionsError()
		}
		rd, err := v.file.Repair(m.eol)
		if ferr := v.file.Err(); ferr != nil {
			return ferr
		}
		if err != nil {
			continue
		}
		repaired = append(repaired, revState{end: m.eol, rd: rd})
	}
	if len(repaired) == 0 || repaired[len(repaired)-1].end != end {
		return nil
	}
	v.revs = append(v.revs, repaired...)
	v.final = repaired[len(repaired)-1].rd
	v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("the revisions after offset %d have damaged cross-reference data; they were read by reconstruction, as viewers read them", lastEnd))
	v.tail = ""
	return nil
}

// revisionAt returns the index of the revision ending at end (right after the %%EOF
// marker or after its end-of-line), or -1.
func (v *pdfVerifier) revisionAt(end int64) int {
	for i, rs := range v.revs {
		if rs.end == end {
			return i
		}
		for _, m := range v.marks {
			if m.eol == rs.end && m.after == end {
				return i
			}
		}
	}
	return -1
}

// verdict judges revision i (> 0) against revision i-1, once.
func (v *pdfVerifier) verdict(i int) revisionVerdict {
	if v.verdicts == nil {
		v.verdicts = map[int]revisionVerdict{}
	}
	if vd, ok := v.verdicts[i]; ok {
		return vd
	}
	prev, cur := v.revs[i-1], v.revs[i]
	vd := classifyRevision(prev.rd, cur.rd)
	v.hiddenObjects(&vd, prev.end, cur)
	v.verdicts[i] = vd
	return vd
}

// hiddenObjects flags objects written in a revision that its cross-reference section
// does not point to but whose number the document uses: a viewer that repairs the
// file (ignoring the cross-reference data) would show them instead.
func (v *pdfVerifier) hiddenObjects(vd *revisionVerdict, from int64, cur revState) {
	offs, err := objectHeaders(v.f, from, cur.end)
	if err != nil {
		vd.note(rankOther, "%v", err)
		return
	}
	maxNum := cur.rd.MaxObjectNumber()
	for _, off := range offs {
		s := newRawScanner(v.f, cur.end, off)
		t, err := s.next()
		if err != nil || !isInt(t.text) || len(t.text) > 9 {
			continue
		}
		num := 0
		for _, c := range t.text {
			num = num*10 + int(c-'0')
		}
		if off == cur.rd.StartXref+cur.rd.Shift {
			continue // the xref stream itself
		}
		at, inStream, ok := cur.rd.ObjectOffset(num)
		if ok && inStream == 0 && at == off {
			continue
		}
		if ok || num <= maxNum {
			vd.note(rankOther, "object %d at offset %d is not the one the cross-reference section names (hidden object)", num, off)
		}
	}
}

// permissionAt is what the document allows in the revision ending at end: the lowest
// DocMDP P of the certifications made before it (0: none, approval semantics), or the
// lower PDF 2.0 /P of a lock of a signature made before it (byLock). A lock's P only
// ever tightens: approval-only documents are judged as P=2 already, so a lock's P=3
// does not let annotations in.
func permissionAt(checks []*sigCheck, end int64) (p int, byLock bool) {
	lowest := func(cur, p int) int {
		if p > 0 && (cur == 0 || p < cur) {
			return p
		}
		return cur
	}
	cert, lock := 0, 0
	for _, c := range checks {
		if c.signedEnd <= 0 || c.signedEnd >= end {
			continue
		}
		cert, lock = lowest(cert, c.certP), lowest(lock, c.lockP)
	}
	base := cert
	if base == 0 {
		base = 2
	}
	if lock != 0 && lock < base {
		return lock, true
	}
	return cert, false
}

// allowed judges a revision verdict under DocMDP permission p (0: approval-only
// document, treated as P=2; byLock: set by a field's lock, not a certification) and
// the FieldMDP locks of the signature judged. why is in English; locked names the
// locked field that changed, for the explanation.
func allowed(vd revisionVerdict, p int, byLock bool, locks []fieldLock) (ok bool, why, locked string) {
	by := "the certification"
	if byLock {
		by = "the signature field lock"
	}
	switch {
	case vd.rank == rankNone:
		return true, "", ""
	case p == 1:
		if vd.rank <= rankSignature && !vd.newApproval {
			return true, "", ""
		}
		return false, by + " (DocMDP P=1) allows no changes", ""
	case p == 3:
		if vd.rank > rankAnnotation {
			return false, "not allowed by " + by + " (DocMDP P=3)", ""
		}
	default:
		if vd.rank > rankForm {
			if p == 2 {
				return false, "not allowed by " + by + " (DocMDP P=2)", ""
			}
			return false, "not allowed after an approval signature (form filling and signing only)", ""
		}
	}
	for _, f := range vd.formFields {
		for _, l := range locks {
			if l.locked(f) {
				return false, fmt.Sprintf("field %q is locked by this signature (FieldMDP)", f), f
			}
		}
	}
	return true, "", ""
}

// modifications lists what happened after sc's revision and whether it was allowed.
func (v *pdfVerifier) modifications(sc *sigCheck, checks []*sigCheck) (mods []Modification, bad bool) {
	k := v.revisionAt(sc.signedEnd)
	if k < 0 {
		return []Modification{{Revision: 0, Kind: KindOther, Allowed: false,
			Detail: "the signed revision is not one of the document's revisions"}}, true
	}
	sc.rep.Revision = k + 1
	for i := k + 1; i < len(v.revs); i++ {
		vd := v.verdict(i)
		p, byLock := permissionAt(checks, v.revs[i].end)
		ok, why, locked := allowed(vd, p, byLock, sc.locks)
		if locked != "" {
			sc.because(ModifiedAfterSigning, msg{
				fmt.Sprintf("Trường %q đã bị khóa bởi chữ ký này (FieldMDP) nhưng vẫn bị thay đổi ở phiên bản %d của văn bản", locked, i+1),
				fmt.Sprintf("Field %q was locked by this signature (FieldMDP) but was changed in revision %d of the document", locked, i+1),
			})
		}
		detail := strings.Join(vd.details, "; ")
		if why != "" {
			detail = why + ": " + detail
		}
		if vd.rank == rankNone {
			detail = "no change to the document"
		}
		mods = append(mods, Modification{Revision: i + 1, Kind: rankKind(vd.rank), Allowed: ok, Detail: detail})
		bad = bad || !ok
	}
	if v.tail != "" {
		mods = append(mods, Modification{Revision: len(v.revs) + 1, Kind: KindOther, Allowed: false, Detail: v.tail})
		bad = true
	}
	if mods == nil {
		mods = []Modification{}
	}
	return mods, bad
}
