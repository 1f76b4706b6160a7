package web

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"time"

	"github.com/kyso-vn/kyso/signer/verify"
)

// The ETSI TS 119 102-2 validation report, the XML EU DSS writes as its "ETSI
// validation report". Only the elements Kyso can fill truthfully are written: for
// each signature its identifier (the digest of the signed file), the validation time
// and, when a timestamp proves it, the best signature time (a proof "provided", as
// DSS writes it), the signer and the main
// and sub-indication; the certificates as validation objects named by their SHA-256.

const (
	nsVR  = "http://uri.etsi.org/19102/v1.2.1#"
	nsDS  = "http://www.w3.org/2000/09/xmldsig#"
	sha2  = "http://www.w3.org/2001/04/xmlenc#sha256"
	urnVR = "urn:etsi:019102:"
)

type xmlReport struct {
	XMLName    xml.Name       `xml:"vr:ValidationReport"`
	NSVR       string         `xml:"xmlns:vr,attr"`
	NSDS       string         `xml:"xmlns:ds,attr"`
	Signatures []xmlSigReport `xml:"vr:SignatureValidationReport"`
	Objects    *xmlObjects    `xml:"vr:SignatureValidationObjects,omitempty"`
}

type xmlSigReport struct {
	ID     xmlSigID       `xml:"vr:SignatureIdentifier"`
	Time   xmlTimeInfo    `xml:"vr:ValidationTimeInfo"`
	Doc    *xmlSignersDoc `xml:"vr:SignersDocument,omitempty"`
	Attrs  *xmlSigAttrs   `xml:"vr:SignatureAttributes,omitempty"`
	Signer *xmlSignerInfo `xml:"vr:SignerInformation,omitempty"`
	Status xmlStatus      `xml:"vr:SignatureValidationStatus"`
}

type xmlSigID struct {
	ID           string `xml:"id,attr"`
	HashOnly     bool   `xml:"vr:HashOnly"`
	DocHashOnly  bool   `xml:"vr:DocHashOnly"`
	DAIdentifier string `xml:"vr:DAIdentifier,omitempty"`
}

type xmlSignersDoc struct {
	Digest xmlDigest `xml:"vr:DigestAlgAndValue"`
}

type xmlDigest struct {
	Method xmlAlg `xml:"ds:DigestMethod"`
	Value  string `xml:"ds:DigestValue"`
}

type xmlAlg struct {
	Algorithm string `xml:"Algorithm,attr"`
}

type xmlTimeInfo struct {
	ValidationTime string  `xml:"vr:ValidationTime"`
	Best           *xmlPOE `xml:"vr:BestSignatureTime,omitempty"`
}

type xmlPOE struct {
	POETime     string `xml:"vr:POETime"`
	TypeOfProof string `xml:"vr:TypeOfProof"`
}

type xmlSigAttrs struct {
	SigningTime *xmlSigningTime `xml:"vr:SigningTime,omitempty"`
	Reason      *xmlReason      `xml:"vr:Reason,omitempty"`
}

type xmlSigningTime struct {
	Signed bool   `xml:"Signed,attr"`
	Time   string `xml:"vr:Time"`
}

type xmlReason struct {
	Signed bool   `xml:"Signed,attr"`
	Text   string `xml:"vr:ReasonElement"`
}

type xmlSignerInfo struct {
	Cert   xmlRef `xml:"vr:SignerCertificate"`
	Signer string `xml:"vr:Signer"`
}

type xmlRef struct {
	VOReference string `xml:"VOReference,attr"`
}

type xmlStatus struct {
	Main string   `xml:"vr:MainIndication"`
	Sub  []string `xml:"vr:SubIndication,omitempty"`
}

type xmlObjects struct {
	Objects []xmlObject `xml:"vr:ValidationObject"`
}

type xmlObject struct {
	ID   string    `xml:"id,attr"`
	Type string    `xml:"vr:ObjectType"`
	Repr xmlDigRep `xml:"vr:ValidationObjectRepresentation"`
}

type xmlDigRep struct {
	Digest xmlDigest `xml:"vr:DigestAlgAndValue"`
}

// mainIndication is the URI of an indication (TS 119 102-2, clause 5.1.3).
func mainIndication(i verify.Indication) string {
	switch i {
	case verify.TotalPassed:
		return urnVR + "mainindication:total-passed"
	case verify.TotalFailed:
		return urnVR + "mainindication:total-failed"
	}
	return urnVR + "mainindication:indeterminate"
}

// subIndication is the URI of a sub-indication as DSS writes it. Kyso's own
// MODIFIED_AFTER_SIGNING has no ETSI name and keeps Kyso's namespace.
func subIndication(s verify.SubIndication) string {
	if s == verify.ModifiedAfterSigning {
		return "urn:kyso:subindication:" + string(s)
	}
	return urnVR + "subindication:" + string(s)
}

func xmlTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// writeETSI renders rep as a TS 119 102-2 ValidationReport: one
// SignatureValidationReport per signature or document timestamp, in report order.
func writeETSI(rep *verify.Report) ([]byte, error) {
	doc := xmlReport{NSVR: nsVR, NSDS: nsDS}
	seen := map[string]bool{}
	objects := &xmlObjects{}
	addCert := func(c *verify.CertInfo) string {
		id := "C-" + c.SHA256
		if !seen[id] {
			seen[id] = true
			sum, _ := hex.DecodeString(c.SHA256)
			objects.Objects = append(objects.Objects, xmlObject{ID: id, Type: urnVR + "validationObject:certificate",
				Repr: xmlDigRep{Digest: xmlDigest{Method: xmlAlg{sha2}, Value: base64.StdEncoding.EncodeToString(sum)}}})
		}
		return id
	}
	fileSum, _ := hex.DecodeString(rep.SHA256)
	for _, s := range rep.Signatures {
		sr := xmlSigReport{
			ID:     xmlSigID{ID: fmt.Sprintf("S-%d", s.Index), DAIdentifier: s.Field},
			Time:   xmlTimeInfo{ValidationTime: xmlTime(rep.ValidationTime)},
			Status: xmlStatus{Main: mainIndication(s.Indication)},
		}
		if len(fileSum) == sha256Size && s.CoversWholeDocument {
			// what the signature covers is the whole file (or a detached signature's content)
			sr.Doc = &xmlSignersDoc{Digest: xmlDigest{Method: xmlAlg{sha2}, Value: base64.StdEncoding.EncodeToString(fileSum)}}
		}
		if s.SubIndication != "" {
			sr.Status.Sub = []string{subIndication(s.SubIndication)}
		}
		if s.SigningTime != nil && (s.TimeSource == "timestamp" || s.TimeSource == "document-timestamp") {
			sr.Time.Best = &xmlPOE{POETime: xmlTime(*s.SigningTime), TypeOfProof: urnVR + "poetype:provided"}
		}
		var attrs xmlSigAttrs
		if s.ClaimedSigningTime != nil {
			attrs.SigningTime = &xmlSigningTime{Signed: true, Time: xmlTime(*s.ClaimedSigningTime)}
		}
		if s.Reason != "" {
			attrs.Reason = &xmlReason{Signed: true, Text: s.Reason}
		}
		if attrs != (xmlSigAttrs{}) {
			sr.Attrs = &attrs
		}
		if s.Signer != nil && s.Signer.SHA256 != "" {
			sr.Signer = &xmlSignerInfo{Cert: xmlRef{addCert(s.Signer)}, Signer: s.Signer.Subject}
		}
		for i := range s.Chain {
			if s.Chain[i].SHA256 != "" {
				addCert(&s.Chain[i])
			}
		}
		doc.Signatures = append(doc.Signatures, sr)
	}
	if len(objects.Objects) > 0 {
		doc.Objects = objects
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("web: ETSI report: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

const sha256Size = 32
