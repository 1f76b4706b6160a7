// Package cades signs files that are not PDFs with detached CAdES signatures (.p7s,
// ETSI EN 319 122-1 baseline B-B and B-T) and verifies them.
//
// The file is hashed as a stream, never held in memory, and the .p7s is written
// atomically: nothing appears at the output path unless the signature is complete.
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
	"path/filepath"
	"time"

	"github.com/kyso-vn/kyso/signer/cms"
)

// SignFile writes to out a detached CAdES signature of the file in, made with signer
// (asked exactly once). spec supplies the certificate, chain and algorithms; its
// Profile is forced to CAdES, Hash defaults to SHA-256 and SigningTime to now. With a
// non-nil ts the signature is B-T (a signature timestamp), else B-B.
func SignFile(ctx context.Context, signer crypto.Signer, spec cms.SignerInfoSpec, in, out string, ts cms.Timestamper) error {
	if spec.Profile != 0 && spec.Profile != cms.ProfileCAdES {
		return fmt.Errorf("cades: profile %v requested; a .p7s is CAdES", spec.Profile)
	}
	if spec.EncapsulatedContent != nil {
		return errors.New("cades: a .p7s here is detached; the content stays in its own file")
	}
	spec.Profile = cms.ProfileCAdES
	if spec.Hash == 0 {
		spec.Hash = crypto.SHA256
	}
	if spec.SigningTime.IsZero() {
		spec.SigningTime = time.Now()
	}
	if same, err := sameFile(in, out); err != nil {
		return err
	} else if same {
		return fmt.Errorf("cades: output %s is the input file", out)
	}
	digest, err := hashFile(ctx, in, spec.Hash)
	if err != nil {
		return err
	}
	var der []byte
	if ts != nil {
		der, err = cms.SignWithTimestamp(ctx, signer, spec, digest, ts)
	} else {
		der, err = cms.Sign(ctx, signer, spec, digest)
	}
	if err != nil {
		return fmt.Errorf("cades: signing %s: %w", in, err)
	}
	return writeAtomic(ctx, out, der)
}

// hashFile hashes the file as a stream, stopping when ctx ends.
func hashFile(ctx context.Context, path string, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("cades: hash %v unavailable", h)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cades: %w", err)
	}
	defer f.Close()
	hh := h.New()
	if _, err := io.Copy(hh, ctxReader{ctx, f}); err != nil {
		return nil, fmt.Errorf("cades: reading %s: %w", path, err)
	}
	return hh.Sum(nil), nil
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

// writeAtomic writes data to a temporary file beside path, syncs it and renames it
// into place, so a reader sees either nothing or the whole signature.
func writeAtomic(ctx context.Context, path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cades: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("cades: writing %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("cades: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("cades: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("cades: writing %s: %w", path, err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("cades: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cades: %w", err)
	}
	return nil
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
