package verify

import (
	"context"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/pkg/pki/vntrust"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// verdict accumulates a signature's indication: the worst one set wins, and the first
// sub-indication of that rank is kept.
type verdict struct {
	ind Indication
	sub SubIndication
}

func (vd *verdict) set(i Indication, s SubIndication) {
	if vd.ind == "" || rank(i) > rank(vd.ind) {
		vd.ind, vd.sub = i, s
	}
}

var knownSubFilters = map[string]bool{
	"adbe.pkcs7.detached": true, "adbe.pkcs7.sha1": true, "ETSI.CAdES.detached": true, "ETSI.RFC3161": true,
}

// isDocTimestamp tells a document timestamp from a signature.
func isDocTimestamp(d pdf.Dict) bool {
	return d["Type"] == pdf.Name("DocTimeStamp") || d["SubFilter"] == pdf.Name("ETSI.RFC3161")
}

// verifySignature checks one signature: coverage and later modifications, integrity,
// then time, trust and revocation. Document timestamps are verified before the
// signatures, so that a signature can take its proof of existence from one.
func (v *pdfVerifier) verifySignature(ctx context.Context, sc *sigCheck, checks []*sigCheck) {
	rep := sc.rep
	vd := verdict{ind: TotalPassed}
	d := sc.dict
	if d == nil {
		d = sc.found.dict
	}
	sub, _ := d["SubFilter"].(pdf.Name)
	rep.SubFilter = string(sub)
	sc.docTS = isDocTimestamp(d)
	switch {
	case sc.docTS:
		rep.Type = "document-timestamp"
	case rep.Type == "":
		rep.Type = "approval"
	}
	if s, ok := d["Reason"].(pdf.String); ok {
		rep.Reason = pdf.DecodeText(s)
	}
	if s, ok := d["Location"].(pdf.String); ok {
		rep.Location = pdf.DecodeText(s)
	}
	var claimed time.Time
	if s, ok := d["M"].(pdf.String); ok {
		if t, err := parsePDFDate(string(s)); err == nil {
			claimed = t
		}
	}
	rep.Integrity = IntegrityIntact
	rep.Level = "none"

	if sc.signedEnd > 0 && sc.integrityErr == nil {
		mods, bad := v.modifications(sc, checks)
		rep.Modifications = mods
		rep.CoversWholeDocument = rep.Revision == len(v.revs) && v.tail == ""
		if bad {
			vd.set(TotalFailed, ModifiedAfterSigning)
			rep.Errors = append(rep.Errors, "the document was changed after this signature in a way its permissions do not allow")
		}
	}
	if sc.integrityErr == nil && !knownSubFilters[string(sub)] {
		sc.integrityErr = fmt.Errorf("verify: unknown /SubFilter %q", sub)
	}
	if sc.integrityErr != nil {
		rep.Integrity = IntegrityFormat
		rep.Errors = append(rep.Errors, sc.integrityErr.Error())
		vd.set(TotalFailed, FormatFailure)
		rep.Indication, rep.SubIndication = vd.ind, vd.sub
		return
	}

	if sc.docTS {
		v.verifyDocTimestamp(ctx, sc, &vd)
		rep.Indication, rep.SubIndication = vd.ind, vd.sub
		return
	}

	out := checkCMS(ctxReaderAt{ctx, v.f}, sc)
	sc.cms = out
	rep.Signer = certInfo(out.signer)
	rep.DigestAlgorithm, rep.SignatureAlgorithm = hashAlgName(out.hash), out.algorithm
	if out.err != nil {
		integ, ind, si := integrityFromError(out.err)
		rep.Integrity = integ
		rep.Errors = append(rep.Errors, out.err.Error())
		vd.set(ind, si)
	}
	if !claimed.IsZero() {
		c := claimed.UTC()
		rep.ClaimedSigningTime = &c
	} else if !out.claimedTime.IsZero() {
		c := out.claimedTime.UTC()
		rep.ClaimedSigningTime = &c
	}
	if out.err == nil && !v.checkPAdESAttributes(sc) {
		// ETSI EN 319 142-1 requires the signer to be named by a signed attribute:
		// without one the signer certificate is not bound to the signature (EU DSS
		// says the same).
		vd.set(Indeterminate, NoSigningCertificateFound)
	}
	if rep.Integrity != IntegrityIntact || out.signer == nil {
		rep.Indication, rep.SubIndication = vd.ind, vd.sub
		return
	}
	poe := v.validateSigner(ctx, sc, checks, &vd)
	rep.Level = v.level(sc, poe)
	rep.Indication, rep.SubIndication = vd.ind, vd.sub
	sc.finish()
}

// validateSigner establishes the signing time (proof of existence), the chain to the
// anchors, the signer's key usage and its revocation status. It returns the proof of
// existence time (zero when none).
func (v *pdfVerifier) validateSigner(ctx context.Context, sc *sigCheck, checks []*sigCheck, vd *verdict) time.Time {
	rep, out := sc.rep, sc.cms

	// Proof of existence: the signature timestamp, else a later document timestamp.
	var poe time.Time
	rep.TimeSource = "validation-time"
	if ts := out.sigTS; ts != nil {
		tsRep, ok := v.timestampReport(ctx, ts)
		rep.Timestamp = tsRep.Timestamp
		if ok {
			poe = ts.genTime
			rep.TimeSource = "timestamp"
		} else {
			rep.Warnings = append(rep.Warnings, "the signature timestamp gives no proof of the signing time: "+tsRep.Detail)
		}
	}
	if poe.IsZero() {
		for _, c := range checks {
			if c.docTS && c.signedEnd > sc.signedEnd && c.rep.Indication == TotalPassed && c.rep.Timestamp != nil {
				poe = c.rep.Timestamp.GenTime
				rep.TimeSource = "document-timestamp"
				break
			}
		}
	}
	switch {
	case !poe.IsZero():
		t := poe.UTC()
		rep.SigningTime = &t
	case rep.ClaimedSigningTime != nil:
		rep.SigningTime = rep.ClaimedSigningTime
		rep.TimeSource = "claimed"
	}
	checkAt := v.at
	if !poe.IsZero() {
		checkAt = poe
	}

	pool := append(append([]*x509.Certificate{}, out.certs...), v.dss.certs...)
	cr, notes := v.chain(ctx, out.signer, pool, checkAt)
	rep.Warnings = append(rep.Warnings, notes...)
	for _, c := range cr.chain {
		rep.Chain = append(rep.Chain, *certInfo(c))
	}
	if len(cr.chain) > 0 {
		rep.PKI = vntrust.PKIName(cr.chain[len(cr.chain)-1])
	}
	if cr.err != nil {
		rep.Errors = append(rep.Errors, cr.err.Error())
	}
	switch cr.sub {
	case "":
	case NotYetValid:
		vd.set(TotalFailed, NotYetValid)
	default:
		vd.set(Indeterminate, cr.sub)
	}
	if cr.sub == OutOfBoundsNoPOE {
		m := expiredWhy(cr.chain, checkAt)
		sc.because(OutOfBoundsNoPOE, m)
		sc.because(OutOfBoundsNotRevoked, m)
	}

	// the algorithms, by the dates of the policy and the proof of existence
	cv := v.opts.Crypto.judge(signatureAlgorithms(out.hash, out.signer, cr.chain, out.sha1Doc), poe, v.at)
	if cv.sub != "" {
		vd.set(Indeterminate, cv.sub)
		sc.because(cv.sub, cv.why())
		rep.Errors = append(rep.Errors, cv.why().en)
	}
	for _, a := range cv.byPOE {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s is accepted only because a timestamp proves the signature was made before its cutoff", a))
	}
	if err := checkSignerUsage(out.signer); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
		vd.set(Indeterminate, SigConstraintsFailure)
	}

	if len(cr.chain) >= 2 {
		ro := v.checkRevocation(ctx, cr.chain[0], cr.chain[1], append(out.ocsps, v.dss.ocsps...), append(out.crls, v.dss.crls...), poe)
		applyRevocation(rep, vd, ro, poe, cr.sub)
	} else if len(cr.chain) == 1 {
		rep.Revocation = &Revocation{Status: "good", Source: "none", Detail: "the signer certificate is itself a trust anchor"}
	}
	return poe
}

// applyRevocation maps the revocation status to the indication (ETSI EN 319 102-1
// 5.2.6 and 5.6.2.1): revoked after the proven signing time passes; revoked at or
// before it fails (REVOKED); revoked with no proof of the signing time is
// INDETERMINATE (REVOKED_NO_POE); unknown status is INDETERMINATE (TRY_LATER), and an
// expired certificate known not to be revoked is OUT_OF_BOUNDS_NOT_REVOKED.
func applyRevocation(rep *SignatureReport, vd *verdict, ro revocationOutcome, poe time.Time, chainSub SubIndication) {
	if ro.err != nil {
		rep.Revocation = &Revocation{Status: "unknown", Source: "none", Detail: ro.err.Error()}
		vd.set(Indeterminate, TryLater)
		return
	}
	r := ro.res
	rep.Revocation = &Revocation{Status: r.Status.String(), Source: ro.source}
	if r.Status != pki.StatusRevoked {
		if chainSub == OutOfBoundsNoPOE {
			vd.ind, vd.sub = Indeterminate, OutOfBoundsNotRevoked
		}
		return
	}
	at := r.RevokedAt.UTC()
	rep.Revocation.RevokedAt = &at
	rep.Revocation.Reason = revocationReason(r.Reason)
	switch {
	case !poe.IsZero() && poe.Before(r.RevokedAt):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the signer certificate was revoked on %s, after the timestamped signing time", at.Format(time.RFC3339)))
	case !poe.IsZero():
		rep.Errors = append(rep.Errors, fmt.Sprintf("the signer certificate was revoked on %s, before the timestamped signing time", at.Format(time.RFC3339)))
		vd.set(TotalFailed, Revoked)
	default:
		rep.Errors = append(rep.Errors, fmt.Sprintf("the signer certificate was revoked on %s and nothing proves the signature is older", at.Format(time.RFC3339)))
		vd.set(Indeterminate, RevokedNoPOE)
	}
}

func revocationReason(code int) string {
	names := []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "certificateHold", "", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}
	if code >= 0 && code < len(names) && names[code] != "" {
		return names[code]
	}
	return strconv.Itoa(code)
}

// checkPAdESAttributes checks the signed attributes of an ETSI.CAdES.detached
// signature: a signing-time attribute is a warning (PAdES puts the time in /M); a
// missing signing-certificate(-v2) attribute makes it report false.
func (v *pdfVerifier) checkPAdESAttributes(sc *sigCheck) bool {
	out, rep := sc.cms, sc.rep
	if rep.SubFilter != "ETSI.CAdES.detached" {
		return true
	}
	if out.hasSignTime {
		rep.Warnings = append(rep.Warnings, "the CMS carries a signing-time attribute, which PAdES baseline forbids")
	}
	if out.signingCert == "" {
		rep.Errors = append(rep.Errors, "the CMS lacks the signing-certificate-v2 attribute PAdES requires")
		return false
	}
	return true
}

// level is the PAdES baseline level the signature reaches.
func (v *pdfVerifier) level(sc *sigCheck, poe time.Time) string {
	out := sc.cms
	if sc.rep.SubFilter != "ETSI.CAdES.detached" || out == nil || out.signingCert == "" || out.hasSignTime {
		return "none"
	}
	if poe.IsZero() {
		return "B-B"
	}
	pool := append(append([]*x509.Certificate{}, out.certs...), v.dss.certs...)
	if !v.dss.present || !hasRevocationDataFor(v.dss, out.signer, pool) {
		return "B-T"
	}
	// B-LTA: a valid document timestamp over a revision that already holds the DSS
	for _, c := range v.checks {
		if !c.docTS || c.signedEnd <= sc.signedEnd || c.rep.Integrity != IntegrityIntact {
			continue
		}
		k := v.revisionAt(c.signedEnd)
		if k >= 0 && hasDSS(v.revs[k].rd) {
			return "B-LTA"
		}
	}
	return "B-LT"
}

// verifyDocTimestamp checks a document timestamp: imprint over the byte ranges, the
// token's signature, and the TSA's chain.
func (v *pdfVerifier) verifyDocTimestamp(ctx context.Context, sc *sigCheck, vd *verdict) {
	rep := sc.rep
	rep.Level = "document-timestamp"
	ts, err := checkDocTimestamp(ctxReaderAt{ctx, v.f}, sc)
	if err != nil {
		rep.Integrity = IntegrityFormat
		rep.Errors = append(rep.Errors, err.Error())
		vd.set(TotalFailed, FormatFailure)
		return
	}
	rep.Signer = certInfo(ts.signer)
	if ts.err != nil {
		integ, ind, si := integrityFromError(ts.err)
		rep.Integrity = integ
		rep.Errors = append(rep.Errors, ts.err.Error())
		vd.set(ind, si)
		return
	}
	t := ts.genTime.UTC()
	rep.SigningTime = &t
	rep.TimeSource = "timestamp"
	tsRep, _ := v.timestampReport(ctx, ts)
	rep.Timestamp = tsRep.Timestamp
	for _, c := range tsRep.chain {
		rep.Chain = append(rep.Chain, *certInfo(c))
	}
	rep.Revocation = tsRep.revocation
	if tsRep.Indication != TotalPassed {
		rep.Errors = append(rep.Errors, tsRep.Detail)
		vd.set(tsRep.Indication, tsRep.SubIndication)
	}
}

// tsReport is a Timestamp with what the document timestamp report also shows.
type tsReport struct {
	*Timestamp
	chain      []*x509.Certificate
	revocation *Revocation
}

// timestampReport validates a token's TSA: chain to the anchors at the validation
// time, timestamping usage, revocation. ok tells whether the token proves its time.
func (v *pdfVerifier) timestampReport(ctx context.Context, ts *tsOutcome) (tsReport, bool) {
	out := tsReport{Timestamp: &Timestamp{GenTime: ts.genTime.UTC(), TSA: certInfo(ts.signer), ImprintValid: ts.err == nil, Indication: TotalPassed}}
	fail := func(i Indication, s SubIndication, detail string) (tsReport, bool) {
		out.Indication, out.SubIndication, out.Detail = i, s, detail
		return out, false
	}
	if ts.err != nil {
		_, ind, si := integrityFromError(ts.err)
		return fail(ind, si, ts.err.Error())
	}
	if ts.signer == nil {
		return fail(Indeterminate, NoSigningCertificateFound, "the timestamp names no TSA certificate")
	}
	if err := pki.CheckTSACertificate(ts.signer); err != nil {
		return fail(Indeterminate, SigConstraintsFailure, err.Error())
	}
	if ts.genTime.Before(ts.signer.NotBefore) || ts.genTime.After(ts.signer.NotAfter) {
		// a TSA cannot vouch for a time when its certificate was not valid
		return fail(Indeterminate, OutOfBoundsNoPOE, fmt.Sprintf("the timestamp's time %s lies outside its TSA certificate's validity",
			ts.genTime.UTC().Format(time.RFC3339)))
	}
	pool := append(append([]*x509.Certificate{}, ts.certs...), v.dss.certs...)
	cr, _ := v.chain(ctx, ts.signer, pool, v.at)
	out.chain = cr.chain
	if cr.sub != "" {
		// a TSA certificate that expired since can still be checked at genTime when
		// a later timestamp covers it; Kyso keeps to the validation time (documented)
		return fail(Indeterminate, cr.sub, "timestamp authority: "+cr.err.Error())
	}
	if ts.algs != nil {
		algs := append(append([]usedAlgorithm{}, ts.algs...), signatureAlgorithms(0, nil, cr.chain, false)...)
		if cv := v.opts.Crypto.judge(algs, time.Time{}, v.at); cv.sub != "" {
			return fail(Indeterminate, cv.sub, "timestamp: "+cv.why().en)
		}
	}
	if len(cr.chain) >= 2 {
		ro := v.checkRevocation(ctx, cr.chain[0], cr.chain[1], v.dss.ocsps, v.dss.crls, ts.genTime)
		var sr SignatureReport
		vd := verdict{ind: TotalPassed}
		applyRevocation(&sr, &vd, ro, ts.genTime, "")
		out.revocation = sr.Revocation
		if vd.ind != TotalPassed {
			return fail(vd.ind, vd.sub, "timestamp authority revocation: "+strings.Join(append(sr.Errors, sr.Revocation.Detail), "; "))
		}
	}
	return out, true
}

// parsePDFDate reads a PDF date string (D:YYYYMMDDHHmmSSOHH'mm').
func parsePDFDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "D:")
	if len(s) < 4 {
		return time.Time{}, fmt.Errorf("verify: bad date %q", s)
	}
	layouts := []string{"20060102150405Z07'00'", "20060102150405Z07'00", "20060102150405Z0700", "20060102150405Z07", "20060102150405Z", "20060102150405", "200601021504", "2006010215", "20060102", "200601", "2006"}
	s = strings.TrimSuffix(s, "'")
	s = strings.Replace(s, "Z00'00", "Z", 1)
	for _, l := range layouts {
		if t, err := time.Parse(strings.TrimSuffix(l, "'"), s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("verify: bad date %q", s)
}

// because records the reason for sub-indication s, in both languages, should it be
// the one the signature ends with.
func (sc *sigCheck) because(s SubIndication, m msg) {
	if sc.whys == nil {
		sc.whys = map[SubIndication]msg{}
	}
	if _, ok := sc.whys[s]; !ok {
		sc.whys[s] = m
	}
}

// finish gives the report the reason for the indication it ended with.
func (sc *sigCheck) finish() {
	if m, ok := sc.whys[sc.rep.SubIndication]; ok {
		sc.rep.why = &m
	}
}

// expiredWhy says which certificate of chain was out of its validity at t, with its
// dates ("chứng thư số đã hết hạn").
func expiredWhy(chain []*x509.Certificate, t time.Time) msg {
	for _, c := range chain {
		if !t.Before(c.NotBefore) && !t.After(c.NotAfter) {
			continue
		}
		who := c.Subject.CommonName
		return msg{
			fmt.Sprintf("Chữ ký nguyên vẹn, nhưng chứng thư số đã hết hạn %s (chứng thư %q, có hiệu lực từ %s đến %s) và không có dấu thời gian chứng minh chữ ký được tạo khi chứng thư còn hiệu lực",
				viDate(c.NotAfter), who, viDate(c.NotBefore), viDate(c.NotAfter)),
			fmt.Sprintf("The signature is intact, but the certificate expired on %s (%q, valid from %s to %s) and no timestamp proves the signature was made while it was valid",
				enDate(c.NotAfter), who, enDate(c.NotBefore), enDate(c.NotAfter)),
		}
	}
	return subExplanations[OutOfBoundsNoPOE]
}
