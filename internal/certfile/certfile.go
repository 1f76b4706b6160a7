// Package certfile reads certificates from PEM or DER bytes: the one reader behind
// pkg/pki's trust stores and the test PKI. It imports only the standard library.
package certfile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
)

// Parse reads every CERTIFICATE block of PEM data (other blocks are skipped), or one
// DER certificate when the data holds no PEM at all. PEM data without a CERTIFICATE
// block gives none and no error; callers that need one say so in their own words.
func Parse(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
}
