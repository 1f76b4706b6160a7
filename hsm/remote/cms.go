package remote

import (
	"errors"
	"fmt"

	"github.com/kyso-vn/kyso/signer/cms"
)

// RawSignature takes the signature value out of a CMS SignedData with one signer and
// no signed attributes, which is what a SIM answers in the TS 102 204 PKCS7 format when
// it signs the DigestInfo it was given. A signer with signed attributes signed its own
// attributes, not the digest: such a CMS cannot be turned into a raw signature.
//
// The CMS is read by signer/cms, which also takes the BER (indefinite lengths) some
// providers send. The signature is not checked here: Signatures checks it against the
// holder's certificate and the digest asked for.
func RawSignature(der []byte) ([]byte, error) {
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the provider's CMS: %v", ErrProviderRejected, err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%w: the provider's CMS has %d signers, want 1", ErrProviderRejected, len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if si.RawSignedAttrs != nil {
		return nil, errors.New("remote: the provider's CMS has signed attributes; its signature is not over the digest (embed the CMS whole)")
	}
	return si.Signature, nil
}
