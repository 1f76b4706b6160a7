// Real signatures carry certificates with negative serial numbers (old CAs), which
// crypto/x509 rejects unless this setting is on; cmd/kyso needs the same directive.

//go:debug x509negativeserial=1

package cms_test
