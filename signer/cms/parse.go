package cms

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// AlgorithmIdentifier is an algorithm and its raw DER parameters (nil when absent).
type AlgorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters []byte
}

// OtherRevocationInfo is an entry of the crls field that is not a CRL, such as an OCSP
// response (Format = OIDRevocationInfoOCSP).
type OtherRevocationInfo struct {
	Format asn1.ObjectIdentifier
	Info   []byte // DER
}

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	Raw              []byte // the DER (normalised) ContentInfo
	Version          int
	DigestAlgorithms []AlgorithmIdentifier
	ContentType      asn1.ObjectIdentifier // eContentType
	Content          []byte                // eContent; nil when detached
	Certificates     []*x509.Certificate
	CRLs             [][]byte // DER CertificateLists
	OtherRevocation  []OtherRevocationInfo
	SignerInfos      []*SignerInfo
	// Warnings lists what was skipped without failing the parse, such as a
	// certificate crypto/x509 cannot read.
	Warnings []string

	parts signedDataParts
}

// SignerInfo is one signer of a SignedData.
type SignerInfo struct {
	Version int
	// The signer identifier: Issuer (raw DER Name) and SerialNumber, or SubjectKeyID.
	Issuer       []byte
	SerialNumber *big.Int
	SubjectKeyID []byte

	DigestAlgorithm AlgorithmIdentifier
	// RawSignedAttrs is the DER SET OF the signed attributes, what the signature
	// covers; nil when the signature is over the content digest directly.
	RawSignedAttrs     []byte
	SignedAttrs        []Attribute
	SignatureAlgorithm AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      []Attribute

	parts signerInfoParts
}

// Parse reads a DER or BER ContentInfo holding a SignedData. Trailing zero bytes (the
// padding of a PDF /Contents string) are allowed; anything else after it is not.
func Parse(der []byte) (*SignedData, error) {
	if len(der) > MaxInputSize {
		return nil, formatErrorf("input is %d bytes, more than %d", len(der), MaxInputSize)
	}
	ci, rest, err := toDER(der)
	if err != nil {
		return nil, err
	}
	for _, c := range rest {
		if c != 0 {
			return nil, formatErrorf("data after the ContentInfo")
		}
	}
	sd := &SignedData{Raw: ci}
	if err := sd.parse(cryptobyte.String(ci)); err != nil {
		return nil, err
	}
	return sd, nil
}

func (sd *SignedData) parse(in cryptobyte.String) error {
	var ci, content cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return formatErrorf("not a ContentInfo")
	}
	if !ct.Equal(OIDSignedData) {
		return formatErrorf("content type %s is not SignedData", ct)
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return formatErrorf("ContentInfo content")
	}
	var s cryptobyte.String
	if !content.ReadASN1(&s, cbasn1.SEQUENCE) || !content.Empty() {
		return formatErrorf("SignedData is not a SEQUENCE")
	}
	var version int64
	if !s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version < 0 || version > 5 {
		return formatErrorf("SignedData version")
	}
	sd.Version = int(version)
	sd.parts.version = version

	if !s.ReadASN1Element((*cryptobyte.String)(&sd.parts.digestAlgs), cbasn1.SET) {
		return formatErrorf("digestAlgorithms")
	}
	var algs cryptobyte.String
	whole := cryptobyte.String(sd.parts.digestAlgs)
	whole.ReadASN1(&algs, cbasn1.SET)
	for !algs.Empty() {
		a, err := readAlgorithm(&algs)
		if err != nil {
			return err
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, a)
	}

	if !s.ReadASN1Element((*cryptobyte.String)(&sd.parts.encap), cbasn1.SEQUENCE) {
		return formatErrorf("encapContentInfo")
	}
	encap := cryptobyte.String(sd.parts.encap)
	var ec cryptobyte.String
	encap.ReadASN1(&ec, cbasn1.SEQUENCE)
	if !ec.ReadASN1ObjectIdentifier(&sd.ContentType) {
		return formatErrorf("eContentType")
	}
	if !ec.Empty() {
		var explicit, octets cryptobyte.String
		if !ec.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
			!explicit.ReadASN1(&octets, cbasn1.OCTET_STRING) || !explicit.Empty() || !ec.Empty() {
			return formatErrorf("eContent")
		}
		sd.Content = []byte(octets)
	}

	tagCerts := cbasn1.Tag(0).Constructed().ContextSpecific()
	if s.PeekASN1Tag(tagCerts) {
		s.ReadASN1Element((*cryptobyte.String)(&sd.parts.certs), tagCerts)
		if err := sd.parseCertificates(); err != nil {
			return err
		}
	}
	tagCRLs := cbasn1.Tag(1).Constructed().ContextSpecific()
	if s.PeekASN1Tag(tagCRLs) {
		s.ReadASN1Element((*cryptobyte.String)(&sd.parts.crls), tagCRLs)
		if err := sd.parseRevocation(); err != nil {
			return err
		}
	}
	var sis cryptobyte.String
	if !s.ReadASN1(&sis, cbasn1.SET) || !s.Empty() {
		return formatErrorf("signerInfos")
	}
	for !sis.Empty() {
		if len(sd.SignerInfos) == maxSignerInfos {
			return formatErrorf("more than %d signer infos", maxSignerInfos)
		}
		si, err := parseSignerInfo(&sis)
		if err != nil {
			return err
		}
		sd.SignerInfos = append(sd.SignerInfos, si)
	}
	return nil
}

func (sd *SignedData) parseCertificates() error {
	s := cryptobyte.String(sd.parts.certs)
	var set cryptobyte.String
	s.ReadASN1(&set, cbasn1.Tag(0).Constructed().ContextSpecific())
	for n := 0; !set.Empty(); n++ {
		if n == maxCertificates {
			return formatErrorf("more than %d certificates", maxCertificates)
		}
		var e cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&e, &tag) {
			return formatErrorf("certificates")
		}
		if tag != cbasn1.SEQUENCE {
			// Attribute certificates and other formats carry no signer keys.
			sd.Warnings = append(sd.Warnings, fmt.Sprintf("skipped a certificate choice with tag %#x", int(tag)))
			continue
		}
		c, err := x509.ParseCertificate(e)
		if err != nil {
			sd.Warnings = append(sd.Warnings, "skipped an unreadable certificate: "+err.Error())
			continue
		}
		sd.Certificates = append(sd.Certificates, c)
	}
	return nil
}

func (sd *SignedData) parseRevocation() error {
	s := cryptobyte.String(sd.parts.crls)
	var set cryptobyte.String
	s.ReadASN1(&set, cbasn1.Tag(1).Constructed().ContextSpecific())
	for !set.Empty() {
		var e cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&e, &tag) {
			return formatErrorf("crls")
		}
		switch tag {
		case cbasn1.SEQUENCE:
			sd.CRLs = append(sd.CRLs, []byte(e))
		case cbasn1.Tag(1).Constructed().ContextSpecific():
			var body cryptobyte.String
			var o OtherRevocationInfo
			var info cryptobyte.String
			var itag cbasn1.Tag
			if !e.ReadASN1(&body, tag) || !body.ReadASN1ObjectIdentifier(&o.Format) ||
				!body.ReadAnyASN1Element(&info, &itag) || !body.Empty() {
				return formatErrorf("otherRevocationInfo")
			}
			o.Info = []byte(info)
			sd.OtherRevocation = append(sd.OtherRevocation, o)
		default:
			sd.Warnings = append(sd.Warnings, fmt.Sprintf("skipped a revocation choice with tag %#x", int(tag)))
		}
	}
	return nil
}

func readAlgorithm(s *cryptobyte.String) (AlgorithmIdentifier, error) {
	var a AlgorithmIdentifier
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.Algorithm) {
		return a, formatErrorf("AlgorithmIdentifier")
	}
	if !seq.Empty() {
		var p cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1Element(&p, &tag) || !seq.Empty() {
			return a, formatErrorf("AlgorithmIdentifier parameters")
		}
		a.Parameters = []byte(p)
	}
	return a, nil
}

func parseSignerInfo(sis *cryptobyte.String) (*SignerInfo, error) {
	var s cryptobyte.String
	if !sis.ReadASN1(&s, cbasn1.SEQUENCE) {
		return nil, formatErrorf("SignerInfo")
	}
	whole := s
	si := &SignerInfo{}
	var version int64
	if !s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version < 0 || version > 5 {
		return nil, formatErrorf("SignerInfo version")
	}
	si.Version = int(version)
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias cryptobyte.String
		var name cryptobyte.String
		si.SerialNumber = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.SerialNumber) || !ias.Empty() {
			return nil, formatErrorf("issuerAndSerialNumber")
		}
		si.Issuer = []byte(name)
	case s.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		s.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific())
		si.SubjectKeyID = []byte(ski)
	default:
		return nil, formatErrorf("signer identifier")
	}
	var err error
	if si.DigestAlgorithm, err = readAlgorithm(&s); err != nil {
		return nil, err
	}
	tagSigned := cbasn1.Tag(0).Constructed().ContextSpecific()
	if s.PeekASN1Tag(tagSigned) {
		var attrs cryptobyte.String
		s.ReadASN1(&attrs, tagSigned)
		// The signature covers the attributes with the universal SET tag.
		b := cryptobyte.NewBuilder(nil)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
		if si.RawSignedAttrs, err = b.Bytes(); err != nil {
			return nil, formatErrorf("signed attributes: %v", err)
		}
		if si.SignedAttrs, err = parseAttributes(attrs); err != nil {
			return nil, err
		}
	}
	if si.SignatureAlgorithm, err = readAlgorithm(&s); err != nil {
		return nil, err
	}
	var sig cryptobyte.String
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, formatErrorf("signature value")
	}
	si.Signature = []byte(sig)
	si.parts.head = whole[:len(whole)-len(s)]
	tagUnsigned := cbasn1.Tag(1).Constructed().ContextSpecific()
	if s.PeekASN1Tag(tagUnsigned) {
		var attrs cryptobyte.String
		s.ReadASN1Element((*cryptobyte.String)(&si.parts.unsigned), tagUnsigned)
		u := cryptobyte.String(si.parts.unsigned)
		u.ReadASN1(&attrs, tagUnsigned)
		if si.UnsignedAttrs, err = parseAttributes(attrs); err != nil {
			return nil, err
		}
	}
	if !s.Empty() {
		return nil, formatErrorf("data after the SignerInfo")
	}
	return si, nil
}

func parseAttributes(s cryptobyte.String) ([]Attribute, error) {
	var out []Attribute
	for !s.Empty() {
		if len(out) == maxAttributes {
			return nil, formatErrorf("more than %d attributes", maxAttributes)
		}
		var seq, vals cryptobyte.String
		var a Attribute
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.Type) ||
			!seq.ReadASN1(&vals, cbasn1.SET) || !seq.Empty() {
			return nil, formatErrorf("attribute")
		}
		for !vals.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !vals.ReadAnyASN1Element(&v, &tag) {
				return nil, formatErrorf("attribute %s value", a.Type)
			}
			a.Values = append(a.Values, []byte(v))
		}
		out = append(out, a)
	}
	return out, nil
}

func findAttribute(attrs []Attribute, oid asn1.ObjectIdentifier) (Attribute, bool) {
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			return a, true
		}
	}
	return Attribute{}, false
}

// SignedAttribute returns the signed attribute of type oid.
func (si *SignerInfo) SignedAttribute(oid asn1.ObjectIdentifier) (Attribute, bool) {
	return findAttribute(si.SignedAttrs, oid)
}

// UnsignedAttribute returns the unsigned attribute of type oid.
func (si *SignerInfo) UnsignedAttribute(oid asn1.ObjectIdentifier) (Attribute, bool) {
	return findAttribute(si.UnsignedAttrs, oid)
}

// singleValue returns the only value of a signed attribute; RFC 5652 requires exactly
// one value and exactly one instance for contentType, messageDigest and signingTime.
func (si *SignerInfo) singleValue(oid asn1.ObjectIdentifier) ([]byte, bool, error) {
	var found []byte
	n := 0
	for _, a := range si.SignedAttrs {
		if a.Type.Equal(oid) {
			n++
			if len(a.Values) != 1 {
				return nil, true, formatErrorf("attribute %s has %d values", oid, len(a.Values))
			}
			found = a.Values[0]
		}
	}
	if n > 1 {
		return nil, true, formatErrorf("attribute %s appears %d times", oid, n)
	}
	return found, n == 1, nil
}

// SignerCertificate finds the certificate the signer identifier names.
func (sd *SignedData) SignerCertificate(si *SignerInfo) (*x509.Certificate, error) {
	return sd.signerCertificate(si, nil)
}

// signerCertificate looks for the signer's certificate among those the SignedData
// carries, then among extra (certificates the caller knows from elsewhere).
func (sd *SignedData) signerCertificate(si *SignerInfo, extra []*x509.Certificate) (*x509.Certificate, error) {
	for _, list := range [][]*x509.Certificate{sd.Certificates, extra} {
		for _, c := range list {
			if si.names(c) {
				return c, nil
			}
		}
	}
	if len(sd.Warnings) > 0 {
		return nil, fmt.Errorf("%w (%d certificate(s) skipped: %s)", ErrSignerCertNotFound, len(sd.Warnings), sd.Warnings[0])
	}
	return nil, ErrSignerCertNotFound
}

// names reports whether the signer identifier names c.
func (si *SignerInfo) names(c *x509.Certificate) bool {
	if si.SerialNumber != nil {
		return c.SerialNumber.Cmp(si.SerialNumber) == 0 && string(c.RawIssuer) == string(si.Issuer)
	}
	return len(si.SubjectKeyID) > 0 && string(c.SubjectKeyId) == string(si.SubjectKeyID)
}
