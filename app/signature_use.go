package app

import (
	"crypto/x509"
	"strings"

	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/verify"
)

// What the statistics count of a signature (store.SignatureUse): its kind, where its
// key lived, and the signer's certificate, which thereby enters the province's
// certificates in use. A personal certificate belongs to the document's agency; an
// organisation's to the agency its organizationIdentifier names.

// keyKindOf is where a server key lives, from its URI.
func keyKindOf(uri string) store.KeyKind {
	switch {
	case strings.HasPrefix(uri, "softkey:"):
		return store.KeySoft
	case uri == "":
		// prepare/complete: the key is outside the server — the desktop agent's USB
		// token in an office, or any tool an integrating system signs with.
		return store.KeyUSBToken
	}
	return store.KeyHSM
}

// remoteKeyKind is the key kind of a remote holder: SIM PKI over ETSI TS 102 204
// ("mss" tickets), else a cloud signing service.
func remoteKeyKind(rs *remoteState) store.KeyKind {
	if rs != nil && rs.Ticket != nil && rs.Ticket.Provider == "mss" {
		return store.KeySIMPKI
	}
	return store.KeyRemote
}

func certForm(k store.KeyKind) store.CertForm {
	switch k {
	case store.KeyUSBToken:
		return store.FormUSBToken
	case store.KeySIMPKI:
		return store.FormSIMPKI
	case store.KeyRemote:
		return store.FormRemote
	}
	return store.FormHSM
}

// signatureUse is the use of cert (nil when unknown) for a signature of kind on a
// document of agency.
func signatureUse(kind store.SignatureKind, kk store.KeyKind, cert *x509.Certificate, agency string) []store.SignatureUse {
	u := store.SignatureUse{Kind: kind, KeyKind: kk}
	if cert != nil {
		ck := store.CertPersonal
		org := agencyOf(cert)
		if kind == store.SigIssue || (kind != store.SigApprove && org != "") {
			ck = store.CertOrganisation
		}
		row := store.CertificateFromX509(cert, ck, certForm(kk))
		row.AgencyCode, row.Owner = org, cert.Subject.CommonName
		if ck == store.CertPersonal || org == "" {
			row.AgencyCode = agency
		}
		u.Certificate = &row
	}
	return []store.SignatureUse{u}
}

// signatureKindOf is the kind of a workflow role's signature.
func signatureKindOf(role string) store.SignatureKind {
	switch role {
	case RoleApprove:
		return store.SigApprove
	case RoleIssue:
		return store.SigIssue
	}
	return store.SigSign
}

// receivedUses are the signatures of an incoming document that verified on receipt
// (TOTAL_PASSED); the others are not counted as received signatures.
func receivedUses(rep *verify.Report) []store.SignatureUse {
	if rep == nil {
		return nil
	}
	var out []store.SignatureUse
	for _, sg := range rep.Signatures {
		if sg.Indication == verify.TotalPassed {
			out = append(out, store.SignatureUse{Kind: store.SigReceive, KeyKind: store.KeyOther})
		}
	}
	return out
}
