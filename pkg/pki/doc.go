// Package pki holds the PKI chores the signing and verification engines share: an
// RFC 3161 timestamp client and a timestamp-token parser that checks the token's CMS
// signature itself, OCSP (RFC 6960) and CRL (RFC 5280) revocation checking with an
// offline mode, and a trust store that builds chains to configured anchors only.
//
// Every check that depends on time takes the time as a parameter or an injected clock.
// Network operations take a context and a timeout.
//
// It imports only the standard library, golang.org/x/crypto and
// github.com/digitorus/timestamp (request encoding). It must never import HTTP-server
// code (test servers live in pkitest), gorm, PKCS#11 or anything above pkg/ in the
// layout.
package pki
