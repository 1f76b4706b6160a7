// Package pki holds the PKI chores the signing and verification engines share: an
// RFC 3161 timestamp client that checks each token against its request, OCSP
// (RFC 6960) and CRL (RFC 5280) revocation checking with an offline mode, a trust store,
// and the one certificate-chain builder (chain.go): chains to configured anchors only,
// and issuer paths through the certificates a file or a token carries; for a verifier
// that judges algorithms by date, chains signed with SHA-1 too (legacy.go). Missing
// issuers come from AIA caIssuers URLs (aia.go), with the revocation clients' timeout.
// Subjects are named for people with Vietnamese identifiers decoded (names.go). The
// built-in Vietnamese trust list is the package pki/vntrust.
//
// CMS is signer/cms's: timestamp tokens are parsed and their signatures checked there,
// and its OID table is the one used here. This package adds what a TSA client requires
// of a fresh token (DER, the ESS signing-certificate attribute, nonce and imprint).
//
// Every check that depends on time takes the time as a parameter or an injected clock.
// Network operations take a context and a timeout.
//
// It imports the standard library, golang.org/x/crypto, github.com/digitorus/timestamp
// (request encoding) and signer/cms. It must never import HTTP-server code (test
// servers live in pkitest), gorm, PKCS#11 or anything above it in the layers.
package pki
