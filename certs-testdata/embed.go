// Package certstestdata holds the committed test PKI's public parts and the three
// demo keys (leader, clerk, organisation) for kyso's demo mode (kyso serve --demo,
// kyso demo token, kyso verify with the test root as its trust), embedded in the
// binary. The CA keys are not embedded: a demo never issues. Everything here is public
// and NOT FOR PRODUCTION (see README.md); only the package demo reads it.
//
// It imports nothing of Kyso's.
package certstestdata

import "embed"

// FS is the demo's part of this directory, file names as in it.
//
//go:embed root-ca.pem sub-ca.pem chain.pem root-ca.crl sub-ca.crl org.pem org.key leader.pem leader.key clerk.pem clerk.key
var FS embed.FS
