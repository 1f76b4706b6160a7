// Package verify decides whether signed documents can be trusted, and says why in a
// report people can read: PAdES and PDF signatures and document timestamps, and
// detached CMS/CAdES signatures. Indications follow ETSI EN 319 102-1 as EU DSS spells
// them (TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE with sub-indications).
//
// What it checks, per signature, in revision order:
//   - integrity: the /ByteRange is two ranges from byte 0 whose gap is exactly the
//     /Contents hex string of this signature dictionary, ending at a revision's
//     %%EOF; the CMS digest and signature verify (signer/cms); PAdES attributes;
//   - modifications: every later revision is compared object by object with the one
//     before it and classified (signatures/DSS/timestamps, metadata, form filling,
//     annotations, other); bytes after the last readable revision, and objects a
//     revision writes but its cross-reference section hides, are changes;
//   - permissions: the DocMDP permission of a certification signature (or of a PDF
//     2.0 field lock's /P) and FieldMDP locks, each judged on the signature that set
//     it (permissions.go). An approval-only document is judged as DocMDP P=2 (form filling and
//     signing allowed; annotations and anything else not). That is Kyso's choice,
//     stricter than pyHanko's (which lets annotations pass after approval
//     signatures), because a comment laid over signed text is how shadow attacks
//     hide content, and the office workflow (leader signs, clerk fills the number and
//     signs) needs nothing more;
//   - trust: a chain to the configured anchors only (never to a certificate the file
//     carries as a root), built with the document's certificates, the configured chain
//     material (Options.Intermediates: the built-in Vietnamese CAs) and, online, the
//     AIA caIssuers; SHA-1 certificate signatures included; key usage and extended key
//     usage, validity at the time a timestamp proves, else at the validation time;
//   - algorithms: integrity is checked whatever the algorithm (SHA-1, adbe.pkcs7.sha1,
//     RSA-1024), then the dated cryptographic constraints (crypto.go, EU DSS's default
//     policy) judge the digest, the key and the chain's signatures at the proof of
//     existence: past a cutoff with no proof is CRYPTO_CONSTRAINTS_FAILURE_NO_POE;
//   - revocation: the document's DSS and the CMS's revocation archive, then OCSP and
//     CRL on the network unless offline (pkg/pki).
//
// Revocation maps to indications as ETSI EN 319 102-1 does: revoked after the
// timestamped signing time passes; revoked at or before it is TOTAL_FAILED/REVOKED;
// revoked with no proof of when the signature was made is INDETERMINATE/REVOKED_NO_POE;
// unknown status is INDETERMINATE/TRY_LATER. A signature whose integrity fails, or a
// document changed after signing in a way its permissions do not allow, is TOTAL_FAILED
// whatever the trust status (sub-indication MODIFIED_AFTER_SIGNING, Kyso's own: ETSI
// has none for PDF revisions).
//
// It never panics on bad input (a recover at the API boundary turns a bug into a
// FORMAT_FAILURE), reads the file in bounded chunks, and bounds every walk.
//
// One file costs what Options.Limits allow (pdf.Limits: revisions, objects,
// cross-reference entries, decoded bytes, time), summed over every revision it reads:
// the revisions share one pdf.File, its cross-reference sections, parsed objects and
// decoded object streams, and a damaged tail is repaired from one scan of the file.
// Past a limit the error is a fault.TooLarge naming the limit's verify.* key (code
// limit/<name>), with no report; the end of the caller's context stops the work
// within a second (fault.Canceled or fault.Timeout).
//
// It imports the standard library, x/crypto, signer/pdf, signer/cms, pkg/pki and
// pkg/pki/vntrust (to name the PKI a chain ends in); never
// HTTP servers, gorm, PKCS#11 or anything above signer/.
package verify
