// Package cms builds, parses and verifies CMS SignedData (RFC 5652) for PAdES and CAdES
// signatures and RFC 3161 timestamp tokens.
//
// Signing is two-phase so that keys outside the process (the desktop agent, SIM PKI,
// a CSC service) run through the same code as an in-process HSM key: Prepare builds the
// signed attributes and says what digest the key must sign; Pending.Complete takes the
// raw signature, checks it against the certificate (a wrong signature from a remote
// signer is an error, never a broken document) and assembles the DER ContentInfo. A
// Pending serialises, so the state survives a restart between the two. Sign runs both
// phases in one call and asks the key exactly once.
//
// We build CMS ourselves on x/crypto/cryptobyte instead of using a pkcs7 library: the
// pinned github.com/digitorus/pkcs7 always adds a signing-time attribute, which the
// PAdES baseline forbids, and neither it nor go.mozilla.org/pkcs7 does RSA-PSS. Those
// libraries appear only in tests, as independent cross-checks.
//
// Parsing accepts BER (real-world signatures use indefinite lengths) by normalising it
// to DER with bounded depth and size, and never panics on malformed input (FuzzParse).
// Verification here covers integrity only — digests, signatures, the attributes a
// profile needs; trust, revocation and time belong to the callers in pkg/.
//
// It is Kyso's one CMS parser and holds its one OID table (oid.go): pkg/pki's TSA
// client parses the tokens it receives here and adds its own stricter checks (DER,
// nonce, imprint), hsm/remote reads what remote providers answer here, and the engines
// name the OIDs here rather than keep copies.
//
// This package depends only on the standard library and golang.org/x/crypto. It must
// never import HTTP, gorm, PKCS#11 code, or anything above signer/ in the layout.
package cms
