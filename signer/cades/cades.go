// Package cades signs files that are not PDFs with detached CAdES signatures (.p7s,
// ETSI EN 319 122-1 baseline B-B and B-T) and verifies them.
//
// The content is hashed as a stream from an io.Reader (Sign), never held in memory,
// and a .p7s file is written durably: nothing appears at the output path unless the
// signature is complete.
// Verification here is integrity and the baseline attributes; trust, revocation and
// time belong to the callers in pkg/.
//
// Like the rest of signer/, this package depends only on crypto.Signer, the standard
// library and golang.org/x/crypto; it must never import HTTP, gorm or PKCS#11 code.
package cades

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kyso-vn/kyso/internal/durable"
	"github.com/kyso-vn/kyso/signer/cms"
)

// Sign returns a detached CAdES signature (DER) of the content read from r, made
// with signer (asked exactly once). The content is hashed as it is read, never held
// in memory, and reading stops when ctx ends. spec supplies the certificate, chain
// and algorithms; its Profile is forced to CAdES, Hash defaults to SHA-256 and
// SigningTime to now. With a non-nil ts the signature is B-T (a signature
// timestamp), else B-B.
func Sign(ctx context.Context, signer crypto.Signer, spec cms.SignerInfoSpec, r io.Reader, ts cms.Timestamper) ([]byte, error) {
	if spec.Profile != 0 && spec.Profile != cms.ProfileCAdES {
		return nil, fmt.Errorf("cades: profile %v requested; a .p7s is CAdES", spec.Profile)
	}
	if spec.EncapsulatedContent != nil {
		return nil, errors.New("cades: a .p7s here is detached; the content stays in its own file")
	}
	spec.Profile = cms.ProfileCAdES
	if spec.Hash == 0 {
		spec.Hash = crypto.SHA256
	}
	if spec.SigningTime.IsZero() {
		spec.SigningTime = time.Now()
	}
	if !spec.Hash.Available() {
		return nil, fmt.Errorf("cades: hash %v unavailable", spec.Hash)
	}
	h := spec.Hash.New()
	if _, err := io.Copy(h, ctxReader{ctx, r}); err != nil {
		return nil, fmt.Errorf("cades: reading the content: %w", err)
	}
	if ts != nil {
		return cms.SignWithTimestamp(ctx, signer, spec, h.Sum(nil), ts)
	}
	return cms.Sign(ctx, signer, spec, h.Sum(nil))
}

// SignFile writes to out a detached CAdES signature of the file in, as Sign. out
// appears whole or not at all (internal/durable).
func SignFile(ctx context.Context, signer crypto.Signer, spec cms.SignerInfoSpec, in, out string, ts cms.Timestamper) error {
	if same, err := sameFile(in, out); err != nil {
		return err
	} else if same {
		return fmt.Errorf("cades: output %s is the input file", out)
	}
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("cades: %w", err)
	}
	defer f.Close()
	der, err := Sign(ctx, signer, spec, f, ts)
	if err != nil {
		return fmt.Errorf("cades: signing %s: %w", in, err)
	}
	return WriteFile(ctx, out, der)
}

// WriteFile writes a signature to path durably: nothing appears there unless it is
// whole, and nothing at all once ctx has ended.
func WriteFile(ctx context.Context, path string, der []byte) error {
	err := durable.Write(path, 0o666, func(w io.Writer) error { // as the umask makes it, like the signed PDFs
		if _, err := w.Write(der); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("cades: writing %s: %w", path, err)
	}
	return nil
}

// ctxReader lets a long hash stop when the caller goes away.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, fmt.Errorf("cades: %w", err)
	}
	sb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cades: %w", err)
	}
	return os.SameFile(sa, sb), nil
}

// Result is what VerifyDetached found.
type Result struct {
	Signature  *cms.Result
	Timestamps []*cms.Timestamp // signature timestamps, each verified against the signature value
	// Level is the CAdES baseline level the attributes reach: "B-T", "B-B", or ""
	// when a B-B attribute is missing (see Missing).
	Level   string
	Missing []string
}

// VerifyDetached checks a detached .p7s against the content read from r. The Result is
// returned whenever the signature itself is intact, even alongside an error that
// concerns only policy (an *cms.AlgorithmError with Verified set) or a timestamp.
func VerifyDetached(p7s []byte, content io.Reader) (*Result, error) {
	sd, err := cms.Parse(p7s)
	if err != nil {
		return nil, fmt.Errorf("cades: %w", err)
	}
	if sd.Content != nil {
		return nil, fmt.Errorf("cades: %w: the signature encapsulates its content; expected a detached .p7s", cms.ErrFormat)
	}
	sig, err := sd.VerifyContent(content)
	if sig == nil {
		return nil, fmt.Errorf("cades: %w", err)
	}
	res := &Result{Signature: sig}
	policyErr := err
	if !sig.HasSignedAttribute(cms.OIDAttrSigningTime) {
		res.Missing = append(res.Missing, "signing-time")
	}
	if sig.SigningCertificate == "" {
		res.Missing = append(res.Missing, "signing-certificate-v2")
	}
	tss, tsErr := sig.SignerInfo.SignatureTimestamps()
	res.Timestamps = tss
	switch {
	case len(res.Missing) > 0:
	case len(tss) > 0 && tsErr == nil:
		res.Level = "B-T"
	default:
		res.Level = "B-B"
	}
	if tsErr != nil {
		return res, fmt.Errorf("cades: %w", tsErr)
	}
	if policyErr != nil {
		return res, fmt.Errorf("cades: %w", policyErr)
	}
	return res, nil
}

// VerifyFile is VerifyDetached for a .p7s file and its content file, streamed.
func VerifyFile(p7sPath, contentPath string) (*Result, error) {
	f, err := os.Open(p7sPath)
	if err != nil {
		return nil, fmt.Errorf("cades: %w", err)
	}
	p7s, err := io.ReadAll(io.LimitReader(f, cms.MaxInputSize+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("cades: reading %s: %w", p7sPath, err)
	}
	c, err := os.Open(contentPath)
	if err != nil {
		return nil, fmt.Errorf("cades: %w", err)
	}
	defer c.Close()
	return VerifyDetached(p7s, c)
}
