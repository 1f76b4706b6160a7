package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"

	"github.com/kyso-vn/kyso/pkg/pki"
	"github.com/kyso-vn/kyso/signer/cms"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// maxDetachedSignature bounds a .p7s file read into memory.
const maxDetachedSignature = 16 << 20

// VerifyDetached verifies a detached CMS/CAdES signature (DER or PEM) over the first
// size bytes of content, read once. With a nil content, the signature must carry its
// content (an attached SignedData). The error is ErrUnreadable when the signature is
// not a CMS SignedData at all.
func VerifyDetached(ctx context.Context, sig []byte, content io.ReaderAt, size int64, name string, opts Options) (rep *Report, err error) {
	rep = &Report{Version: ReportVersion, File: name, Size: size, Format: "cms",
		ValidationTime: opts.validationTime().UTC(), Signatures: []SignatureReport{}, Errors: []string{}, Warnings: []string{}}
	defer func() {
		if p := recover(); p != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("verify: internal error: %v", p))
			rep.Indication, rep.SubIndication = TotalFailed, FormatFailure
			err = nil
		}
	}()
	opts = opts.withRevocation(rep.ValidationTime)
	ctx, cancel := withTimeout(ctx, opts.Limits)
	defer cancel()
	if len(sig) > maxDetachedSignature {
		return nil, fmt.Errorf("%w: signature file larger than %d bytes", ErrUnreadable, maxDetachedSignature)
	}
	if block, _ := pem.Decode(sig); block != nil {
		sig = block.Bytes
	}
	sd, perr := cms.Parse(sig)
	if perr != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, perr)
	}
	var data io.Reader
	switch {
	case content != nil:
		data = &ctxReader{ctx: ctx, r: io.NewSectionReader(content, 0, size)}
		if sd.Content != nil {
			rep.Warnings = append(rep.Warnings, "the signature carries its own content; the given content file is verified instead")
		}
	case sd.Content != nil:
		data = bytes.NewReader(sd.Content)
		rep.Size = int64(len(sd.Content))
	default:
		return nil, fmt.Errorf("%w: a detached signature needs its content (--content FILE)", ErrUnreadable)
	}
	// the report's sha256 is the content's; the content is read once more for it
	h := sha256.New()
	if content != nil {
		if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: io.NewSectionReader(content, 0, size)}); err != nil {
			if cerr := pdf.ContextError(ctx); cerr != nil {
				return nil, cerr
			}
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
	} else {
		h.Write(sd.Content)
	}
	rep.SHA256 = hex.EncodeToString(h.Sum(nil))

	sr := &SignatureReport{Index: 1, Type: "approval", SubFilter: "CMS", Integrity: IntegrityIntact, Level: "none",
		Modifications: []Modification{}, Chain: []CertInfo{}, Errors: []string{}, Warnings: []string{}, CoversWholeDocument: true}
	out := &cmsOutcome{certs: sd.Certificates, crls: sd.CRLs}
	for _, o := range sd.OtherRevocation {
		if o.Format.Equal(cms.OIDRevocationInfoOCSP) {
			out.ocsps = append(out.ocsps, o.Info)
		}
	}
	if len(sd.SignerInfos) == 1 {
		if c, err := sd.SignerCertificate(sd.SignerInfos[0]); err == nil {
			out.signer = c
		}
	}
	vd := verdict{ind: TotalPassed}
	res, verr := sd.VerifyContent(data)
	if weakButIntact(res, verr) {
		verr = nil // intact; the dated constraints judge the algorithm
	}
	if verr != nil {
		integ, ind, si := integrityFromError(verr)
		sr.Integrity = integ
		sr.Errors = append(sr.Errors, verr.Error())
		vd.set(ind, si)
	} else {
		out.signer, out.hash, out.algorithm = res.Certificate, res.Hash, res.SignatureAlgorithm
		out.signedAttrs, out.signingCert, out.claimedTime = res.HasSignedAttrs, res.SigningCertificate, res.SigningTime
		out.hasSignTime = res.HasSignedAttribute(cms.OIDAttrSigningTime)
		if a, ok := res.SignerInfo.UnsignedAttribute(cms.OIDAttrSignatureTimeStampToken); ok && len(a.Values) > 0 {
			sigValue := res.SignerInfo.Signature
			out.sigTS = checkTimestampToken(a.Values[0], func(h crypto.Hash) []byte {
				hh := h.New()
				hh.Write(sigValue)
				return hh.Sum(nil)
			})
		}
		if !out.claimedTime.IsZero() {
			t := out.claimedTime.UTC()
			sr.ClaimedSigningTime = &t
		}
	}
	sr.Signer = certInfo(out.signer)
	var sc *sigCheck
	if sr.Integrity == IntegrityIntact && out.signer != nil {
		v := &pdfVerifier{opts: opts, at: rep.ValidationTime, rep: rep, dss: &dssData{}}
		sc = &sigCheck{rep: sr, cms: out}
		poe := v.validateSigner(ctx, sc, nil, &vd)
		switch {
		case out.signingCert == "":
			sr.Level = "none"
		case poe.IsZero():
			sr.Level = "CAdES-B-B"
		default:
			sr.Level = "CAdES-B-T"
		}
	}
	if err := pdf.ContextError(ctx); err != nil {
		return nil, err
	}
	sr.Indication, sr.SubIndication = vd.ind, vd.sub
	sr.DigestAlgorithm, sr.SignatureAlgorithm = hashAlgName(out.hash), out.algorithm
	if sc != nil {
		sc.finish()
	}
	rep.Signatures = append(rep.Signatures, *sr)
	rep.summarize()
	return rep, nil
}

// ctxReaderAt stops a long read (a signature's ranges hashed the slow way) when the
// context ends.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := pdf.ContextError(c.ctx); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// ctxReader stops a long read when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := pdf.ContextError(c.ctx); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// LoadAnchors reads trust anchors from PEM or DER certificate files, or from every
// .pem, .crt, .cer and .der file of a directory (pki.LoadTrustStore's rules). No path
// is no anchor.
func LoadAnchors(paths ...string) ([]*x509.Certificate, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	ts, err := pki.LoadTrustStore(paths...)
	if err != nil {
		return nil, fmt.Errorf("verify: trust anchors: %w", err)
	}
	return ts.Anchors(), nil
}
