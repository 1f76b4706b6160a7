package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Attribute is a CMS attribute: a type and its values, each value one DER element.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

// NewAttribute builds an attribute whose values are encoding/asn1 marshallings of vals
// (pass asn1.RawValue{FullBytes: der} for pre-encoded values).
func NewAttribute(oid asn1.ObjectIdentifier, vals ...any) (Attribute, error) {
	a := Attribute{Type: oid}
	for _, v := range vals {
		der, err := asn1.Marshal(v)
		if err != nil {
			return Attribute{}, fmt.Errorf("cms: attribute %s: %w", oid, err)
		}
		a.Values = append(a.Values, der)
	}
	return a, nil
}

// marshalAttribute appends SEQUENCE { type, SET OF values } in DER order.
func marshalAttribute(b *cryptobyte.Builder, a Attribute) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.Type)
		addSetOf(b, cbasn1.SET, a.Values)
	})
}

// addSetOf writes elements under tag sorted as DER asks for a SET OF; a signature over
// signed attributes is a signature over exactly this encoding.
func addSetOf(b *cryptobyte.Builder, tag cbasn1.Tag, elems [][]byte) {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for _, e := range sorted {
			b.AddBytes(e)
		}
	})
}

func encodeAttributes(tag cbasn1.Tag, attrs []Attribute) ([]byte, error) {
	elems := make([][]byte, 0, len(attrs))
	for _, a := range attrs {
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("cms: attribute %s has no value", a.Type)
		}
		for _, v := range a.Values {
			if err := checkElement(v); err != nil {
				return nil, fmt.Errorf("cms: attribute %s: %w", a.Type, err)
			}
		}
		var b cryptobyte.Builder
		marshalAttribute(&b, a)
		e, err := b.Bytes()
		if err != nil {
			return nil, fmt.Errorf("cms: attribute %s: %w", a.Type, err)
		}
		elems = append(elems, e)
	}
	var b cryptobyte.Builder
	addSetOf(&b, tag, elems)
	return b.Bytes()
}

// checkElement makes sure v is exactly one DER element, so a caller's attribute value
// cannot shift the structure around it.
func checkElement(v []byte) error {
	s := cryptobyte.String(v)
	var e cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1Element(&e, &tag) || !s.Empty() {
		return fmt.Errorf("value is not one DER element")
	}
	return nil
}

// signingCertificateV2 is the ESS signing-certificate-v2 value (RFC 5035) naming cert by
// its hash and issuer/serial; the hash algorithm is left out when it is the default,
// SHA-256.
func signingCertificateV2(cert *x509.Certificate, h crypto.Hash) ([]byte, error) {
	oid, err := oidFromHash(h)
	if err != nil {
		return nil, err
	}
	hh := h.New()
	hh.Write(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				if h != crypto.SHA256 {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oid)
					})
				}
				b.AddASN1OctetString(hh.Sum(nil))
				addIssuerSerial(b, cert)
			})
		})
	})
	return b.Bytes()
}

// addIssuerSerial writes IssuerSerial { GeneralNames { directoryName [4] issuer }, serial }.
func addIssuerSerial(b *cryptobyte.Builder, cert *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddBytes(cert.RawIssuer)
			})
		})
		b.AddASN1BigInt(cert.SerialNumber)
	})
}

// encodeSigningTime uses UTCTime through 2049 and GeneralizedTime after, as RFC 5652
// section 11.3 requires.
func encodeSigningTime(t time.Time) ([]byte, error) {
	t = t.UTC().Truncate(time.Second)
	var b cryptobyte.Builder
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
	return b.Bytes()
}

func encodeOID(oid asn1.ObjectIdentifier) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(oid)
	return b.Bytes()
}

func encodeOctetString(v []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1OctetString(v)
	return b.Bytes()
}
