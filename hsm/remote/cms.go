package remote

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    asn1.RawValue
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm asn1.RawValue
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

// RawSignature takes the signature value out of a CMS SignedData with one signer and
// no signed attributes, which is what a SIM answers in the TS 102 204 PKCS7 format when
// it signs the DigestInfo it was given. A signer with signed attributes signed its own
// attributes, not the digest: such a CMS cannot be turned into a raw signature.
func RawSignature(der []byte) ([]byte, error) {
	var ci contentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil || len(rest) > 0 || !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: the provider's CMS is not a SignedData", ErrProviderRejected)
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("%w: the provider's CMS: %v", ErrProviderRejected, err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%w: the provider's CMS has %d signers, want 1", ErrProviderRejected, len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if len(si.SignedAttrs.FullBytes) > 0 {
		return nil, errors.New("remote: the provider's CMS has signed attributes; its signature is not over the digest (embed the CMS whole)")
	}
	return si.Signature, nil
}
